"""Stand-in resolvers: one that rebinds (a name answers a public address to its first look-up,
the portal's check, and loopback to every later one, a request that resolves the name
again), and one that answers a name with several addresses."""

from __future__ import annotations

import socket

PUBLIC = "93.184.216.34"


def rebinding_resolver(monkeypatch, name: str) -> list[str]:
    """Install the resolver for `name` (other names resolve as ever); the look-ups of it."""
    real = socket.getaddrinfo
    looked_up: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        looked_up.append(host)
        address = PUBLIC if len(looked_up) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up


def resolving(monkeypatch, name: str, addresses: list[str]) -> None:
    """`name` resolves to `addresses`, in that order (other names resolve as ever)."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port or 443)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
