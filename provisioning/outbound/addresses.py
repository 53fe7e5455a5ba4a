"""Where a webhook may go: a public https host, or exactly the sandbox's origin.

Checked when the URL is entered (its form: https, no user name, no private, loopback or
multicast literal, no `localhost`) and again before every request (what the name resolves to now),
the same rules as a SCIM app's address (tenants/endpoints.py,
provisioning/connectors/base.refuse_private_addresses). The request then connects to the
addresses that were checked (`pinned_addresses`; the next one when one takes no connection),
never to the name resolved a second time: a name that answers a public address to the check
and a private one to the connection a moment later (DNS rebinding) reaches nothing inside."""

from __future__ import annotations

import socket

from tenants import endpoints
from tenants.endpoints import EndpointError


class RefusedAddress(Exception):
    """Nothing was sent: the address is not a public host. The message is for people."""


def check_url(url: str) -> str:
    """The normalised URL, or EndpointError with a message for the form."""
    return endpoints.public_https(url, "A webhook may not go to").url


def pinned_addresses(url: str) -> list[str]:
    """The addresses to connect to for `url`, in the resolver's order: what its host resolves
    to now, when every one of them is public (the sandbox's origin is not checked).
    RefusedAddress otherwise. Empty when the name does not resolve: the request is left to
    fail."""
    origin = endpoints.origin_of(url)
    if origin is None:
        raise RefusedAddress("Only plain https:// addresses are used.")
    sandbox = origin == endpoints.sandbox_origin()
    try:
        if not sandbox:
            check_url(url)
        found = socket.getaddrinfo(origin[1], origin[2], proto=socket.IPPROTO_TCP)
    except EndpointError as exc:
        raise RefusedAddress(str(exc)) from None
    except OSError:
        return []
    if not sandbox and (refused := endpoints.first_non_public(found)) is not None:
        address, kind = refused
        raise RefusedAddress(
            f"Nothing was sent: {origin[1]} resolves to {address}, {kind}. "
            "Webhooks only go to public hosts."
        )
    return endpoints.addresses_of(found)
