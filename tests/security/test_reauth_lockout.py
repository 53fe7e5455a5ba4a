"""Typing the password again (re-authentication) is a sign-in step, and its failures count
toward the same lockouts: django-axes' per username and address, and the cap per account
(portal.account_limit). A session taken without the password would otherwise guess it on
the re-authentication page without end. The real person is not kept out by a thief's
guesses: the lock is per address (the thief's own), and the account's cap never holds an
address the person signed in from (docs/security.md, "Signing in")."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

LIMIT = 3
NEXT = "/account/mfa/enrol/"
STALE = 301  # seconds since the password was typed: past REAUTH_MAX_AGE_SECONDS (300)


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR = 100


def signed_in_from(address: str, username: str = "tech-alpha") -> Client:
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def taken_session(alpha, address: str) -> Client:
    """The person's session, used by someone else from `address`."""
    thief = Client(REMOTE_ADDR=address)
    signed_in(thief, alpha.technician, seconds_ago=STALE)
    return thief


def reauth(client: Client, password: str):
    return client.post(reverse("reauth"), {"password": password, "next": NEXT})


def test_wrong_passwords_typed_again_lock_that_address_out(alpha):
    thief = taken_session(alpha, "203.0.113.5")
    for _ in range(LIMIT):
        reauth(thief, "wrong-guess")
    response = reauth(thief, PASSWORD)  # the right one, once locked: not tried
    assert response.status_code == 429 and "Retry-After" in response
    assert "Too many failed sign-ins" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.reauth_failed").count() >= LIMIT
    assert AuditEvent.objects.filter(action="auth.locked_out").count() == 1
    refused = Client(REMOTE_ADDR="203.0.113.5").post(
        reverse("login"), {"username": "tech-alpha", "password": PASSWORD}
    )
    assert refused.status_code == 429


def test_the_person_at_their_own_address_is_not_locked_out_by_them(alpha):
    office = signed_in_from("192.0.2.10")
    thief = taken_session(alpha, "203.0.113.5")
    for _ in range(LIMIT + 1):
        reauth(thief, "wrong-guess")
    assert reauth(office, PASSWORD)["Location"] == NEXT
    assert signed_in_from("192.0.2.10")


def test_the_account_cap_holds_a_new_address_at_reauth_as_at_sign_in(alpha, settings):
    """Guesses from many addresses spent the account's cap: a stolen session at yet another
    address is held before its password is tried, as the sign-in page holds it."""
    assert signed_in_from("192.0.2.10")  # the person's office
    thief = taken_session(alpha, "198.51.100.7")
    settings.SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR = 2
    for n in range(2):
        Client(REMOTE_ADDR=f"203.0.113.{n + 1}").post(
            reverse("login"), {"username": "tech-alpha", "password": "wrong-guess"}
        )
    response = reauth(thief, PASSWORD)
    assert response.status_code == 429 and "Retry-After" in response
    assert thief.get(NEXT)["Location"].startswith(reverse("reauth"))  # still not typed
