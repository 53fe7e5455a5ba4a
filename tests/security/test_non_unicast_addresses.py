"""A webhook (or a SCIM app) goes to one host: a multicast group (224.0.0.0/4, ff00::/8,
RFC 5771 / RFC 4291 §2.7), the limited broadcast address (RFC 919) or the reserved
240.0.0.0/4 (RFC 1112 §4) is no host, and a datagram sent there reaches whatever listens on
the MSP's own segment. `ipaddress` calls multicast addresses global (they are routable), so
they passed the public-address check; each is refused, when typed and when a name resolves
to it, with a message that names what it is."""

import asyncio
import ipaddress
import socket

import pytest
from django.urls import reverse

from provisioning.connectors.base import EndpointRefusedError, checked_addresses
from provisioning.outbound.addresses import RefusedAddress, check_url, pinned_addresses
from provisioning.outbound.models import WebhookEndpoint
from tenants import endpoints
from tests.factories import signed_in

NOT_ONE_HOST = [
    ("224.0.0.1", "a multicast address"),  # all hosts on this segment
    ("239.255.255.250", "a multicast address"),  # SSDP
    ("233.252.0.1", "a multicast address"),  # MCAST-TEST-NET, globally scoped
    ("ff02::1", "a multicast address"),
    ("ff0e::1", "a multicast address"),  # global scope
    ("64:ff9b::e000:1", "a multicast address"),  # NAT64 of 224.0.0.1
    ("::ffff:239.255.255.250", "a multicast address"),
    ("255.255.255.255", "a broadcast address"),
    ("240.0.0.1", "a reserved address"),
    ("254.1.2.3", "a reserved address"),
]


@pytest.mark.parametrize(("address", "kind"), NOT_ONE_HOST)
def test_a_literal_that_is_no_single_host_is_refused_naming_what_it_is(address, kind):
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(endpoints.EndpointError, match=f"A webhook may not go to {kind}"):
        check_url(f"https://{host}/hooks")
    with pytest.raises(endpoints.EndpointError, match=kind):
        endpoints.check_allowed(endpoints.Service.SCIM_APP, f"https://{host}/scim/v2")


@pytest.mark.parametrize(("address", "kind"), NOT_ONE_HOST)
def test_a_name_resolving_to_no_single_host_gets_nothing(monkeypatch, address, kind):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    def getaddrinfo(host, port, *args, **kwargs):
        sockaddr = (address, port or 443, 0, 0) if ":" in address else (address, port or 443)
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    said = f"resolves to {ipaddress.ip_address(address)}, {kind}"
    with pytest.raises(RefusedAddress, match=said):
        pinned_addresses("https://psa.example.com/hooks")
    with pytest.raises(EndpointRefusedError, match=said):
        asyncio.run(checked_addresses("https://scim.example.com/scim/v2"))


@pytest.mark.django_db
def test_the_webhook_form_says_multicast_and_saves_nothing(client, alpha):
    signed_in(client, alpha.technician)
    response = client.post(
        reverse("outbound_tenant_create", kwargs={"tenant": alpha.tenant.slug}),
        {"name": "HaloPSA", "url": "https://224.0.0.251/hooks", "kinds": ["job.failed"]},
    )
    assert response.status_code == 200
    assert "A webhook may not go to a multicast address" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()
