"""An MSP admin's Unlock lifts the person's own lockouts (django-axes' attempts, the cap per
account) but not the cap per client: that count is everyone's failures from one address, a
spray over many accounts, and lifting it for one person would let the spray go on against
all of them (polish1). The staff page said "can sign in again" and nothing of the client
still held: now it says which client still waits, and until when."""

import html

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import PASSWORD, signed_in

pytestmark = pytest.mark.django_db

SPRAYER = "2001:db8:6:1::"


@pytest.fixture(autouse=True)
def _caps(settings):
    settings.SECURITY_EVENTS_PER_MINUTE = 1000  # every failure here is recorded
    settings.SIGNIN_FAILURES_PER_CLIENT_PER_HOUR = 4
    settings.AXES_FAILURE_LIMIT = 2


def sign_in(address: str, username: str, password: str = PASSWORD):
    client = Client(REMOTE_ADDR=address)
    return client.post(reverse("login"), {"username": username, "password": password})


def test_an_unlock_says_the_client_cap_it_leaves_and_until_when(client, alpha, msp_admin):
    person = alpha.technician
    for n in range(2):  # the person's own lockout from the sprayer
        assert sign_in(f"{SPRAYER}{n + 10:x}", person.username, "Winter2026!").status_code == 200
    for n in range(2):  # and others' names from the same /64
        sign_in(f"{SPRAYER}{n + 20:x}", f"user-{n}", "Winter2026!")
    signed_in(client, msp_admin)

    unlock = reverse("staff_unlock", kwargs={"person_id": person.pk})
    page = html.unescape(client.post(unlock, follow=True).content.decode())

    assert "can sign in again" in page
    assert "Still held" in page and f"{SPRAYER}/64" in page and "until" in page
    assert sign_in("198.51.100.7", person.username).status_code == 302  # their own: lifted
    assert sign_in(f"{SPRAYER}99", person.username).status_code == 429  # the client's: kept
