"""Every request a connector's HTTP client sends passes `refuse_other_origins`: the origin of
its URL is worked out once per origin a process meets (a host's IDNA and IP address parse cost
~50 µs a request for a cloud's host name), and decides as `endpoints.origin_of` does."""

from __future__ import annotations

import pytest

from provisioning.connectors import base
from provisioning.connectors.errors import EndpointRefusedError
from tenants import endpoints

URLS = [
    "https://graph.microsoft.com/v1.0/$batch",
    "https://GRAPH.microsoft.com:443/v1.0/users/x?$select=id",
    "https://graph.microsoft.com:8443/v1.0/users",
    "https://graph.microsoft.com./v1.0/users",
    "HTTPS://graph.microsoft.com/v1.0/users",
    "  https://graph.microsoft.com/v1.0/users  ",
    "https://user@graph.microsoft.com/v1.0/users",
    "https://graph.microsoft.com@evil.example/v1.0/users",
    "http://graph.microsoft.com/v1.0/users",
    "https://evil.example/graph.microsoft.com/v1.0",
    "https://[::1]:8443/okta/t-1/api/v1/users",
    "https://127.0.0.1:8443/okta/t-1/api/v1/users?after=x",
    "https://bücher.example/api",
    "https://xn--bcher-kva.example/api",
    "https://graph.microsoft.com:0/v1.0",
    "https://graph.microsoft.com:99999/v1.0",
    "https://graph.microsoft.com:x/v1.0",
    "https:///v1.0/users",
    "https://graph.microsoft.com\\@evil.example/",
    "https://graph.microsoft.com#@evil.example/",
    "https://graph.microsoft.com?@evil.example/",
    "",
]
GRAPH = endpoints.parse("https://graph.microsoft.com")


@pytest.mark.parametrize("url", URLS)
def test_a_requests_origin_is_decided_as_origin_of_decides_it(url):
    allowed = endpoints.origin_of(url) == GRAPH.origin
    try:
        base.refuse_other_origins(GRAPH, url)
        refused = False
    except EndpointRefusedError:
        refused = True
    assert refused is not allowed


def test_an_origin_is_worked_out_once_however_many_requests_go_there(monkeypatch):
    parsed: list[str] = []
    original = endpoints.origin_of

    def counted(url):
        parsed.append(url)
        return original(url)

    monkeypatch.setattr(endpoints, "origin_of", counted)
    okta = endpoints.parse("https://acme-cached.okta.com")
    for n in range(20):
        base.refuse_other_origins(okta, f"https://acme-cached.okta.com/api/v1/users/{n}")
    with pytest.raises(EndpointRefusedError):
        base.refuse_other_origins(okta, "https://acme-cached.okta.com.evil.example/api")

    assert len(parsed) == 2
