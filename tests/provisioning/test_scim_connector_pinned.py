"""The SCIM connector sends its credential to the address that was checked, never to the app's
name resolved a second time (DNS rebinding: public to the check, loopback to the request).

The resolver is the stand-in (no sandbox plays a rebinding DNS server), and so is the socket
connect, which notes where it was asked to go and refuses: nothing leaves the machine. The
pinned requests themselves, TLS and Host included, are the rest of the SCIM tests against
the sandbox (its origin is pinned too, only not checked)."""

from __future__ import annotations

import anyio
import pytest

from provisioning.connectors import bridge
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.scim import ScimConnector
from tests.rebinding import PUBLIC, rebinding_resolver

REBIND = "scim.rebind.example.com"


@pytest.fixture
def rebinding(monkeypatch):
    """`REBIND` resolves to PUBLIC once, then to 127.0.0.1; every connect is noted and
    refused."""
    rebinding_resolver(monkeypatch, REBIND)
    connected: list[str] = []

    async def connect_tcp(remote_host, remote_port, **kwargs):
        connected.append(str(remote_host))
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)
    return connected


def test_the_credential_goes_to_the_checked_address_not_the_name_again(rebinding):
    declared = {"patch": True, "filter": True, "max_results": 100, "groups": False}
    scim = ScimConnector(
        base_url=f"https://{REBIND}/scim/v2",
        secret="scim-app-secret",  # noqa: S106
        discovered=declared,
    )
    with pytest.raises(ConnectorError):
        bridge.run(scim.find_user("ada@co.example"), timeout=30)
    assert rebinding, "no connection was attempted"
    assert set(rebinding) == {PUBLIC}, "connected to a name resolved again"
