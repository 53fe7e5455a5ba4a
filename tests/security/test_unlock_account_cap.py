"""The cap per account (portal.account_limit) holds a person's sign-ins from clients new to
them once guesses from many addresses reach it, while no one address reached django-axes'
limit: the staff page showed no lockout and no Unlock button, so an admin could not lift it
there, and once django-axes' attempts were gone (it deletes them past its cool-off, a quarter
of the cap's hour) an Unlock said "was not locked out" and left nothing on the audit trail
(polish2). The page says the cap holds and until when; Unlock lifts it, audited."""

import html

import pytest
from axes.models import AccessAttempt
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


def sign_in(address: str, username: str, password: str = PASSWORD):
    client = Client(REMOTE_ADDR=address)
    return client.post(reverse("login"), {"username": username, "password": password})


def guess_from_many_addresses(username: str) -> None:
    for n in range(CAP):
        assert sign_in(f"203.0.113.{n + 1}", username, "wrong-guess").status_code == 200


def test_the_staff_page_shows_the_cap_per_account_with_its_unlock(client, alpha, msp_admin):
    person = alpha.technician
    guess_from_many_addresses(person.username)
    signed_in(client, msp_admin)
    page = html.unescape(
        client.get(reverse("staff_edit", kwargs={"person_id": person.pk})).content.decode()
    )
    assert "Locked out of sign-in" in page and "Unlock sign-in" in page
    assert f"{CAP} or more failed sign-ins" in page and "until" in page


def test_unlock_lifts_the_cap_alone_and_is_audited(client, alpha, msp_admin):
    person = alpha.technician
    guess_from_many_addresses(person.username)
    AccessAttempt.objects.all().delete()  # as django-axes does past its cool-off
    assert sign_in("198.51.100.7", person.username).status_code == 429
    signed_in(client, msp_admin)

    unlock = reverse("staff_unlock", kwargs={"person_id": person.pk})
    page = html.unescape(client.post(unlock, follow=True).content.decode())

    assert "can sign in again" in page and "Unlock sign-in" not in page
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert event.target_display == person.username
    assert event.before == {"attempts": [], "account_cap": {"failures": CAP}}
    assert sign_in("198.51.100.7", person.username).status_code == 302


def test_unlock_of_a_django_axes_lockout_says_the_cap_too(client, alpha, msp_admin):
    person = alpha.technician
    guess_from_many_addresses(person.username)
    signed_in(client, msp_admin)
    client.post(reverse("staff_unlock", kwargs={"person_id": person.pk}))
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert event.before["account_cap"] == {"failures": CAP}
    assert len(event.before["attempts"]) == CAP
