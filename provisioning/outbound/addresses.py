"""Where a webhook may go: a public https host, or exactly the sandbox's origin.

Checked when the URL is entered (its form: https, no user name, no private or loopback
literal, no `localhost`) and again before every request (what the name resolves to now),
the same rules as a SCIM app's address (tenants/endpoints.py,
provisioning/connectors/base.refuse_private_addresses)."""

from __future__ import annotations

import socket

from tenants import endpoints
from tenants.endpoints import EndpointError


class RefusedAddress(Exception):
    """Nothing was sent: the address is not a public host. The message is for people."""


def check_url(url: str) -> str:
    """The normalised URL, or EndpointError with a message for the form."""
    return endpoints.public_https(url, "A webhook may not go to").url


def refuse_private(url: str) -> None:
    """RefusedAddress when `url`'s host resolves to any non-public address (the sandbox's
    origin excepted). A name that does not resolve is left to the request, which fails."""
    origin = endpoints.origin_of(url)
    if origin is None:
        raise RefusedAddress("Only plain https:// addresses are used.")
    if origin == endpoints.sandbox_origin():
        return
    try:
        check_url(url)
        found = socket.getaddrinfo(origin[1], origin[2], proto=socket.IPPROTO_TCP)
    except EndpointError as exc:
        raise RefusedAddress(str(exc)) from None
    except OSError:
        return
    if (address := endpoints.first_non_public(found)) is not None:
        raise RefusedAddress(
            f"Nothing was sent: {origin[1]} resolves to {address}, a private or loopback "
            "address. Webhooks only go to public hosts."
        )
