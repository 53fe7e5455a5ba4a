"""Whose address the sign-in lockout counts (django-axes locks a username + address pair).

Facing the clients (no TRUSTED_PROXIES, the default) the connection's address is the
client's and X-Forwarded-For, which anyone can write, counts for nothing. Behind a reverse
proxy every connection comes from the proxy: without TRUSTED_PROXIES one attacker locks a
person out for everyone, and with it the client is the address the proxy saw, so an
attacker who rotates the header they send gains nothing either."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.client_address import client_address
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"
ATTACKER, VICTIM = "203.0.113.9", "198.51.100.7"


def sign_in(remote_addr: str, forwarded_for: str | None = None, password: str = PASSWORD):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    client = Client(REMOTE_ADDR=remote_addr)
    data = {"username": "tech-alpha", "password": password}
    return client.post(reverse("login"), data, headers=headers)


def fail_until_locked(remote_addr: str, forwarded_for) -> None:
    for n in range(settings.AXES_FAILURE_LIMIT):
        sign_in(remote_addr, forwarded_for(n), "wrong")


def test_without_trusted_proxies_a_forwarded_for_header_is_not_believed(alpha):
    fail_until_locked(ATTACKER, lambda n: f"192.0.2.{n}")
    assert sign_in(ATTACKER, "192.0.2.200").status_code == 429  # a new header: still locked
    event = AuditEvent.objects.filter(action="auth.login_failed").first()
    assert event.source_ip == ATTACKER


def test_behind_a_trusted_proxy_an_attacker_locks_out_only_themself(alpha, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    fail_until_locked(PROXY, lambda n: ATTACKER)
    assert sign_in(PROXY, ATTACKER).status_code == 429
    assert sign_in(PROXY, VICTIM).status_code == 302  # the person, from their own address
    event = AuditEvent.objects.filter(action="auth.login_failed").first()
    assert event.source_ip == ATTACKER


def test_behind_a_trusted_proxy_rotating_the_header_sent_gains_nothing(alpha, settings):
    """The proxy appends the address it saw to what the client sent: what the client wrote
    is on the left, never read."""
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    fail_until_locked(PROXY, lambda n: f"192.0.2.{n}, {ATTACKER}")
    assert sign_in(PROXY, f"192.0.2.200, {ATTACKER}").status_code == 429


def test_a_connection_not_from_a_trusted_proxy_has_its_header_ignored(alpha, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    fail_until_locked(ATTACKER, lambda n: f"192.0.2.{n}")
    assert sign_in(ATTACKER, VICTIM).status_code == 429


@pytest.mark.parametrize(
    "remote,forwarded,trusted,client",
    [
        (PROXY, ATTACKER, (), PROXY),  # none trusted: the connection's address
        (PROXY, "", (PROXY,), PROXY),  # no header: the proxy's own
        (PROXY, f"1.1.1.1, {ATTACKER}", ("10.0.0.0/8",), ATTACKER),
        (PROXY, f"{ATTACKER}, 10.1.1.1", ("10.0.0.0/8",), ATTACKER),  # two proxies
        (PROXY, f"{ATTACKER}:51234", (PROXY,), ATTACKER),  # a proxy that writes the port
        (PROXY, "[2001:db8::7]:443", (PROXY,), "2001:db8::7"),
        (PROXY, f"{ATTACKER}, not-an-address", (PROXY,), PROXY),  # stop at the proxy
        (PROXY, "10.9.9.9", ("10.0.0.0/8",), "10.9.9.9"),  # an inside client
        ("::ffff:10.0.0.2", ATTACKER, (PROXY,), ATTACKER),
    ],
)
def test_the_client_address_is_read_from_the_right(remote, forwarded, trusted, client):
    assert client_address(remote, forwarded, trusted) == client
