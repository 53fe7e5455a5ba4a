"""The live server (pytest-django's `live_server`, Django's development server in a thread)
sends each answer without waiting on Nagle's algorithm (tests/conftest.py): its status line
and headers, then its body, went as two small sends, and the body waited for the client's
delayed acknowledgement (some 40 ms on Linux) on every request of the browser and SCIM
tests."""

from __future__ import annotations

import socket

import httpx
import pytest
from django.core.servers.basehttp import WSGIRequestHandler


@pytest.fixture
def nodelay_seen(monkeypatch) -> list[int]:
    seen: list[int] = []
    setup = WSGIRequestHandler.setup

    def noting(handler):
        setup(handler)
        seen.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(WSGIRequestHandler, "setup", noting)
    return seen


def test_each_connection_to_the_live_server_sends_at_once(live_server, nodelay_seen):
    response = httpx.get(f"{live_server.url}/login/", timeout=10)
    assert response.status_code == 200
    assert nodelay_seen and all(nodelay_seen), nodelay_seen
