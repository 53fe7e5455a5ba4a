"""The address of the client a request comes from, the one the sign-in lockout
(django-axes), the rate limits and the audit trail key on.

Without TRUSTED_PROXIES (the default) it is the connection's own address, REMOTE_ADDR, and
X-Forwarded-For is ignored: anyone can write that header. Behind a reverse proxy, every
connection comes from the proxy: list its addresses (or networks) in TRUSTED_PROXIES, and
the client is then the nearest address in X-Forwarded-For that is not a trusted proxy,
read from the right (each proxy appends the address it was connected from; what a client
wrote itself stays on the left, behind its real address, and is never reached).

X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER) is likewise believed only on a connection from a
trusted proxy: from anyone else it is dropped before Django reads it."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None


def client_address(remote_addr: str, forwarded_for: str, trusted: tuple[str, ...]) -> str:
    """The client's address, from the connection's and the X-Forwarded-For header's."""
    networks = trusted_networks(trusted)
    nearest = parse(remote_addr)
    if nearest is None or not _is_trusted(nearest, networks):
        return remote_addr
    for hop in reversed(forwarded_for.split(",")):
        address = parse(hop)
        if address is None:  # a trusted proxy wrote nonsense: stop at the proxy
            break
        nearest = address
        if not _is_trusted(address, networks):
            break
    return str(nearest)


# What one sender holds of IPv6 at the least: a /64 (a host gets one of its own, RFC 8273; a
# site a /48 to /56, RFC 6177), through which it could move for a fresh count every request.
IPV6_SENDER_PREFIX = 64


def sender(addr: str | None) -> str:
    """Who a limit per client counts: an IPv4 address (mapped into IPv6 or not), or an IPv6
    address's /64."""
    try:
        address = ipaddress.ip_address(addr or "")
    except ValueError:
        return "unknown"
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_SENDER_PREFIX}", strict=False))
    return str(address)


def of_request(request: HttpRequest) -> str:
    """For django-axes (AXES_CLIENT_IP_CALLABLE): the address ClientAddressMiddleware set,
    never what django-ipware would make of the headers if it were installed."""
    return request.META.get("REMOTE_ADDR", "")


def parse(text: str) -> Address | None:
    """An address as a proxy writes it: bare, or with a port (`1.2.3.4:80`, `[::1]:80`)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def _is_trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def from_trusted_proxy(remote_addr: str, trusted: tuple[str, ...]) -> bool:
    """Whether the connection itself comes from one of TRUSTED_PROXIES."""
    peer = parse(remote_addr)
    return bool(trusted) and peer is not None and _is_trusted(peer, trusted_networks(trusted))


def use_client_address(request: HttpRequest) -> None:
    trusted = tuple(settings.TRUSTED_PROXIES)
    if not from_trusted_proxy(request.META.get("REMOTE_ADDR", ""), trusted):
        _drop_forwarded_proto(request)
    if trusted:
        request.META["REMOTE_ADDR"] = client_address(
            request.META.get("REMOTE_ADDR", ""),
            request.META.get("HTTP_X_FORWARDED_FOR", ""),
            trusted,
        )


def _drop_forwarded_proto(request: HttpRequest) -> None:
    """Whether the client's connection was HTTPS (SECURE_PROXY_SSL_HEADER) is a proxy's to
    say: from anyone else the header would make request.is_secure() true over plain HTTP
    (no SSL redirect, a secure-only CSRF check on a request that is not)."""
    request.META.pop("HTTP_X_FORWARDED_PROTO", None)
    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if header:
        request.META.pop(header[0], None)
