"""Failed sign-ins are capped per account, whatever the address (NIST SP 800-63B §5.2.2: at
most 100 a subscriber's account), beside django-axes' lock per username and address: someone
who moves to a new address for every few guesses (many hosts, the addresses of one IPv6 /64)
is held once the account's failures reach SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR. Addresses the
person signed in from within 30 days are never held by the cap (as Entra's smart lockout keeps
familiar locations apart), so an outsider who spends it keeps only strangers out; the staff
page's Unlock lifts it."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

CAP = 3


@pytest.fixture(autouse=True)
def _cap(settings):
    settings.SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR = CAP
    settings.AXES_FAILURE_LIMIT = 5  # never reached from one address below


def sign_in(address: str, username: str = "tech-alpha", password: str = PASSWORD):
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return client, response


def guess_from_many_addresses(username: str = "tech-alpha", how_many: int = CAP) -> None:
    for n in range(how_many):
        _, response = sign_in(f"203.0.113.{n + 1}", username, "wrong-guess")
        assert response.status_code == 200


def test_guesses_from_many_addresses_hold_the_account_for_a_new_address(alpha):
    guess_from_many_addresses()
    client, response = sign_in("198.51.100.7")  # the right password, from a new address
    assert response.status_code == 429 and "Retry-After" in response
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    held = AuditEvent.objects.filter(action="auth.locked_out").get()
    assert held.after["scope"] == "account" and held.target_display == "tech-alpha"


def test_an_address_the_person_signed_in_from_is_never_held(alpha):
    assert sign_in("192.0.2.10")[1].status_code == 302  # the person's office, earlier
    guess_from_many_addresses()
    client, response = sign_in("192.0.2.10")
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_the_persons_ipv6_network_stays_familiar_as_their_address_moves(alpha):
    """A host's IPv6 address moves through its /64 (RFC 8981's temporary addresses change
    every day): the person was a stranger at their next address, kept out by the outsider
    who spent the cap. Their /64 is familiar now, as the limits count a client (attack21)."""
    assert sign_in("2001:db8:4:1::a")[1].status_code == 302  # the person's laptop, yesterday
    guess_from_many_addresses()
    client, response = sign_in("2001:db8:4:1:8c1e:55ff:fe01:9a7b")  # today's address
    assert response.status_code == 302 and "_auth_user_id" in client.session
    assert sign_in("2001:db8:4:2::a")[1].status_code == 429  # another network is a stranger


def test_another_spelling_of_the_name_counts_against_the_same_account(alpha):
    guess_from_many_addresses("TECH-ALPHA")
    assert sign_in("198.51.100.7", "tech-alpha")[1].status_code == 429


def test_an_msp_admins_unlock_lifts_the_cap(client, alpha, msp_admin):
    guess_from_many_addresses()
    signed_in(client, msp_admin)
    client.post(reverse("staff_unlock", kwargs={"person_id": alpha.technician.pk}))
    assert sign_in("198.51.100.7")[1].status_code == 302


def test_django_axes_reset_of_the_username_lifts_the_cap(alpha):
    guess_from_many_addresses()
    call_command("axes_reset_username", "tech-alpha", stdout=io.StringIO())
    assert sign_in("198.51.100.7")[1].status_code == 302


def test_one_client_guessing_across_many_usernames_is_held(settings, alpha, bravo):
    """django-axes counts per username and address, and the cap per account: one address
    trying one password on every username it knows (password spraying) was never held, each
    try an Argon2 hash of CPU. Past SIGNIN_FAILURES_PER_CLIENT_PER_HOUR failures from one
    client (an IPv6 /64 counted as one), that client's sign-ins wait, whoever they name; a
    person who signed in from it before still signs in there (attack21)."""
    settings.SIGNIN_FAILURES_PER_CLIENT_PER_HOUR = 4
    assert sign_in("2001:db8:6:1::a", "tech-bravo")[1].status_code == 302  # bravo's desk
    for n in range(4):
        _, response = sign_in(f"2001:db8:6:1::{n + 10:x}", f"user-{n}", "Winter2026!")
        assert response.status_code == 200
    client, response = sign_in("2001:db8:6:1::99", "tech-alpha")  # the right password
    assert response.status_code == 429 and "Retry-After" in response
    assert "_auth_user_id" not in client.session
    held = AuditEvent.objects.filter(action="auth.locked_out").get()
    assert held.after["scope"] == "client"
    assert sign_in("2001:db8:6:1::b", "tech-bravo")[1].status_code == 302  # familiar there
    assert sign_in("198.51.100.7", "tech-alpha")[1].status_code == 302  # another client
