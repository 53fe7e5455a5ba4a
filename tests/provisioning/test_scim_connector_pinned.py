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
from tests.provisioning.scim_apps import make_app
from tests.rebinding import PUBLIC, rebinding_resolver, resolving

REBIND = "scim.rebind.example.com"
CLOSED = "127.0.0.2"  # loopback where nothing listens: the sandbox listens on 127.0.0.1 only


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
    with pytest.raises(ConnectorError) as refused:
        bridge.run(scim.find_user("ada@co.example"), timeout=30)
    assert rebinding, "no connection was attempted"
    assert set(rebinding) == {PUBLIC}, "connected to a name resolved again"
    assert f"Could not connect to {REBIND} at any of its addresses: {PUBLIC}" in str(refused.value)


def test_an_address_that_refuses_is_followed_by_the_next_checked_one(
    on_sandbox, settings, monkeypatch
):
    """The app's name answers two addresses; nothing listens at the first, so the
    connection is refused there and the credential goes to the second (the sandbox, reached
    as `localhost`, which its certificate names)."""
    app = make_app(on_sandbox, "full")
    by_name = on_sandbox.url.replace("127.0.0.1", "localhost")
    settings.SANDBOX_URL = by_name
    resolving(monkeypatch, "localhost", [CLOSED, "127.0.0.1"])
    connected: list[str] = []
    real = anyio.connect_tcp

    async def connect_tcp(remote_host, remote_port, **kwargs):
        connected.append(str(remote_host))
        return await real(remote_host, remote_port, **kwargs)

    monkeypatch.setattr(anyio, "connect_tcp", connect_tcp)
    scim = ScimConnector(
        base_url=app.base_url.replace(on_sandbox.url, by_name),
        secret=app.token,
        discovered={"patch": True, "filter": True, "max_results": 100, "groups": False},
    )
    assert bridge.run(scim.find_user("nobody@co.example"), timeout=30) is None
    assert connected[:2] == [CLOSED, "127.0.0.1"]
