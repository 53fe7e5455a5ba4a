"""IPv6 addresses that carry an IPv4 address inside them reach that IPv4 address: a NAT64
gateway (RFC 6052, 64:ff9b::/96; RFC 8215's local-use 64:ff9b:1::/48), a 6to4 relay
(RFC 3056, 2002::/16), Teredo (RFC 4380, 2001::/32), and the IPv4-mapped, -compatible and
-translated forms (RFC 4291 §2.5.5, RFC 2765). A webhook or a SCIM app at one of them that
embeds a loopback, private or link-local IPv4 address is a way inside the MSP's network, and
is refused as that IPv4 address is; one that embeds a public IPv4 address stays allowed."""

import asyncio
import socket

import pytest

from provisioning.connectors.base import EndpointRefusedError, checked_addresses
from provisioning.outbound.addresses import RefusedAddress, check_url, pinned_addresses
from tenants import endpoints
from tests.rebinding import PUBLIC

INSIDE = [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a00:5",  # NAT64 of 10.0.0.5
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254, cloud metadata
    "64:ff9b:1::a00:5",  # local-use NAT64: never a public address
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1
    "::ffff:10.0.0.5",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "::127.0.0.1",  # IPv4-compatible (deprecated, still parsed)
    "::10.0.0.5",
    "::ffff:0:127.0.0.1",  # IPv4-translated
    "::ffff:0:100.64.0.1",  # shared address space (carrier-grade NAT)
]
OUTSIDE = ["64:ff9b::5db8:d822", "2002:5db8:d822::1", "::ffff:93.184.216.34"]  # PUBLIC inside


@pytest.mark.parametrize("address", INSIDE)
def test_an_ipv6_literal_embedding_an_inside_ipv4_is_refused_for_webhooks_and_scim(address):
    with pytest.raises(endpoints.EndpointError, match="a private or loopback address"):
        check_url(f"https://[{address}]/hooks")
    with pytest.raises(endpoints.EndpointError, match="a private or loopback address"):
        endpoints.check_allowed(endpoints.Service.SCIM_APP, f"https://[{address}]/scim/v2")


@pytest.mark.parametrize("address", INSIDE)
def test_a_name_resolving_to_an_ipv6_address_embedding_an_inside_ipv4_gets_nothing(
    monkeypatch, address
):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 443, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(RefusedAddress, match="a private or loopback address"):
        pinned_addresses("https://psa.example.com/hooks")
    with pytest.raises(EndpointRefusedError, match="a private or loopback address"):
        asyncio.run(checked_addresses("https://scim.example.com/scim/v2"))


@pytest.mark.parametrize("address", OUTSIDE)
def test_an_ipv6_address_embedding_a_public_ipv4_is_allowed(monkeypatch, address):
    assert endpoints.ipaddress.ip_address(address) != endpoints.ipaddress.ip_address(PUBLIC)
    assert check_url(f"https://[{address}]/hooks")

    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port or 443, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    assert pinned_addresses("https://psa.example.com/hooks") == [address]
