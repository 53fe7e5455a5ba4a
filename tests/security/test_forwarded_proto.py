"""X-Forwarded-Proto says the client's connection was HTTPS; production believes it
(SECURE_PROXY_SSL_HEADER). Anyone can write that header, so it counts only on a connection
from a TRUSTED_PROXIES address: from anyone else it is dropped before Django's
request.is_secure() reads it, and the SSL redirect still applies."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from portal.middleware import ClientAddressMiddleware

PROXY, CLIENT = "10.0.0.2", "203.0.113.9"


@pytest.fixture
def behind_tls(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.TRUSTED_PROXIES = [PROXY]


def is_secure(remote_addr: str, **headers) -> bool:
    request = RequestFactory().get("/", REMOTE_ADDR=remote_addr, headers=headers)
    return ClientAddressMiddleware(lambda r: r.is_secure())(request)


def test_only_a_trusted_proxy_makes_a_request_secure(behind_tls):
    assert is_secure(PROXY, **{"X-Forwarded-Proto": "https"})
    assert not is_secure(CLIENT, **{"X-Forwarded-Proto": "https"})
    assert not is_secure(PROXY)


def test_without_trusted_proxies_nobody_does(behind_tls, settings):
    settings.TRUSTED_PROXIES = []
    assert not is_secure(PROXY, **{"X-Forwarded-Proto": "https"})


@pytest.mark.django_db
def test_an_untrusted_peer_is_still_sent_to_https(behind_tls):
    headers = {"X-Forwarded-Proto": "https"}
    untrusted = Client(REMOTE_ADDR=CLIENT).get(reverse("login"), headers=headers)
    assert untrusted.status_code == 301
    assert untrusted["Location"].startswith("https://")
    trusted = Client(REMOTE_ADDR=PROXY).get(reverse("login"), headers=headers)
    assert trusted.status_code == 200
