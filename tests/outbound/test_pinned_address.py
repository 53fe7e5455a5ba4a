"""A webhook goes to the address that was checked, never to its name resolved a second time.

DNS rebinding: a receiver's name answers a public address to the portal's check and a
loopback one a moment later, to the request's own look-up. The resolver is the only stand-in
here (no sandbox can play a rebinding DNS server); the connection is refused where it is
attempted, so nothing leaves the machine. The real delivery, by name, with TLS verified
against that name, goes to the sandbox reached as `localhost`."""

from __future__ import annotations

import socket
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from provisioning.connectors import base
from provisioning.outbound import deliveries, sending, signing
from provisioning.outbound.models import Delivery
from tests.outbound.support import delivery_of, make_endpoint, received, receiver
from tests.rebinding import PUBLIC, rebinding_resolver, resolving

pytestmark = pytest.mark.django_db

REBIND = "rebind.example.com"
CLOSED = "127.0.0.2"  # loopback where nothing listens: the sandbox listens on 127.0.0.1 only


@pytest.fixture
def rebinding(monkeypatch):
    """`REBIND` resolves to PUBLIC once, then to 127.0.0.1; every connection attempt is
    noted and refused."""
    rebinding_resolver(monkeypatch, REBIND)
    connected: list[tuple] = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    return connected


def test_the_request_connects_to_the_checked_address_not_the_name_again(rebinding):
    answer = sending.post(f"https://{REBIND}/hooks/in", b"{}", {})
    assert not answer.delivered and "Could not connect" in answer.error
    assert rebinding == [(PUBLIC, 443)], "connected to a name resolved again (or elsewhere)"


def test_every_checked_address_is_tried_until_one_connects(monkeypatch):
    """Pinning keeps the resolver's fallback: an address that takes no connection (an IPv6
    route that is missing) is followed by the next one."""
    attempts: list[tuple] = []

    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2606:2800:220:1::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port)),
        ]

    def create_connection(address, *args, **kwargs):
        attempts.append(address)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    sending.post("https://psa.example.com/in", b"{}", {})
    assert [a[0] for a in attempts] == ["2606:2800:220:1::1", PUBLIC]


def test_a_delivery_by_name_reaches_the_receiver_with_its_host_and_tls_name(
    on_sandbox, alpha, settings
):
    """The sandbox reached as `localhost` (its certificate names localhost): the pinned
    request verifies TLS against the name and sends it as the Host."""
    by_name = on_sandbox.url.replace("127.0.0.1", "localhost")
    settings.SANDBOX_URL = by_name
    url = receiver(on_sandbox).replace(on_sandbox.url, by_name)
    endpoint, secret = make_endpoint(alpha.tenant, url)
    delivery = deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)
    assert delivery.status == Delivery.Status.DELIVERED, delivery.last_error
    (got,) = received(on_sandbox, url)
    signing.verify(secret, got["headers"], got["body"])
    assert got["headers"]["host"] == by_name.removeprefix("https://")


@pytest.mark.parametrize("first_fails", ["refused", "timed out"])
def test_an_address_that_takes_no_connection_is_followed_by_the_next(
    on_sandbox, alpha, settings, monkeypatch, first_fails
):
    """The receiver's name answers two addresses and the first takes no connection (refused
    by a closed port, or no answer within its share of the timeout, simulated): the delivery
    goes to the second, as a client given the name would."""
    by_name = on_sandbox.url.replace("127.0.0.1", "localhost")
    settings.SANDBOX_URL = by_name
    url = receiver(on_sandbox).replace(on_sandbox.url, by_name)
    endpoint, _ = make_endpoint(alpha.tenant, url)
    resolving(monkeypatch, "localhost", [CLOSED, "127.0.0.1"])
    attempts: list[tuple] = []
    real = socket.create_connection

    def create_connection(address, *args, **kwargs):
        attempts.append(address)
        if address[0] == CLOSED and first_fails == "timed out":
            raise TimeoutError("timed out (the test)")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    delivery = deliveries.attempt(delivery_of(alpha.tenant, endpoint).pk)
    port = urlsplit(by_name).port
    assert attempts == [(CLOSED, port), ("127.0.0.1", port)]
    assert delivery.status == Delivery.Status.DELIVERED, delivery.last_error
    assert len(received(on_sandbox, url)) == 1


def test_when_no_address_takes_a_connection_each_is_named_within_one_timeout(monkeypatch):
    """Every address is tried, each within its share of the one timeout (the first takes
    all of its share, on a stand-in clock), and the error says which addresses of which host
    were tried and how each failed."""
    resolving(monkeypatch, "psa.example.com", ["93.184.216.35", PUBLIC])
    waited = [0.0]
    clock = SimpleNamespace(monotonic=lambda: time.monotonic() + waited[0])
    monkeypatch.setattr(base, "time", clock)
    timeouts: list[float] = []

    def create_connection(address, timeout=None, *args, **kwargs):
        timeouts.append(timeout)
        if len(timeouts) == 1:
            waited[0] += timeout
            raise TimeoutError("timed out (the test)")
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    answer = sending.post("https://psa.example.com/in", b"{}", {})
    assert not answer.delivered
    assert answer.error == (
        "Could not connect to psa.example.com at any of its addresses: "
        f"93.184.216.35 (ConnectTimeout), {PUBLIC} (ConnectError)."
    )
    assert timeouts[0] == pytest.approx(sending.TIMEOUT_S / 2, rel=0.05)
    assert sum(timeouts) <= sending.TIMEOUT_S
