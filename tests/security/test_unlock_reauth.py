"""Unlocking a person's sign-in lets guesses at their password go on: the staff page's
Unlock and a delete of django-axes' attempts in the Django admin need the password typed
within REAUTH_MAX_AGE_SECONDS, as the staff page's other actions (a role, tenants, a second
factor reset) do. A session taken without the password cannot lift the lockout of an
account it is guessing at (attack19)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import signed_in
from tests.security.test_unlock_audited import lock_out, sign_in

pytestmark = pytest.mark.django_db

STALE = 301  # seconds since the password was typed: past REAUTH_MAX_AGE_SECONDS (300)


@pytest.fixture(autouse=True)
def _events_unbudgeted(settings):
    settings.SECURITY_EVENTS_PER_MINUTE = 1000


def to_password_page(response, back_to: str) -> bool:
    expected = f"{reverse('reauth')}?{urlencode({'next': back_to})}"
    return response.status_code == 302 and response["Location"] == expected


def test_the_staff_pages_unlock_asks_for_the_password_again(client, alpha, msp_admin):
    person = alpha.technician
    lock_out(person.username)
    signed_in(client, msp_admin, seconds_ago=STALE)
    unlock = reverse("staff_unlock", kwargs={"person_id": person.pk})
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert to_password_page(client.post(unlock), edit)
    assert sign_in(person.username).status_code == 429
    assert not AuditEvent.objects.filter(action="auth.unlocked").exists()
    signed_in(client, msp_admin)
    assert client.post(unlock).status_code == 302
    assert sign_in(person.username).status_code == 302


def test_deleting_attempts_in_the_django_admin_asks_for_the_password_again(
    client, alpha, msp_admin
):
    person = alpha.technician
    lock_out(person.username)
    attempt = AccessAttempt.objects.get(username=person.username)
    signed_in(client, msp_admin, seconds_ago=STALE)
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert to_password_page(client.get(delete), delete)
    assert to_password_page(client.post(delete, {"post": "yes"}), delete)
    changelist = reverse("admin:axes_accessattempt_changelist")
    chosen = {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    assert to_password_page(client.post(changelist, chosen), changelist)
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert sign_in(person.username).status_code == 429
    assert client.get(changelist).status_code == 200  # looking needs nothing more
    signed_in(client, msp_admin)
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert sign_in(person.username).status_code == 302
