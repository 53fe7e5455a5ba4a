"""Unlocking a person locked out of sign-in (django-axes' failed attempts deleted) lets
someone try passwords again: who did it, for whom and from how many failures is on the audit
trail, whether done on the person's staff page or in the Django admin."""

import io
from zoneinfo import ZoneInfo

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import PASSWORD, signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _events_unbudgeted(settings):
    """Every failure and lockout here is recorded (one address makes them all)."""
    settings.SECURITY_EVENTS_PER_MINUTE = 1000


ATTACKER = "203.0.113.9"


def sign_in(username: str, password: str = PASSWORD):
    client = Client(REMOTE_ADDR=ATTACKER)
    return client.post(reverse("login"), {"username": username, "password": password})


def lock_out(username: str) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(username, "wrong")
    assert sign_in(username).status_code == 429


def test_an_msp_admin_unlocks_a_person_on_their_staff_page_and_it_is_audited(
    client, alpha, msp_admin
):
    person = alpha.client_admin
    lock_out(person.username)
    signed_in(client, msp_admin)
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    page = client.get(edit).content.decode()
    assert "locked out" in page and ATTACKER in page and "Unlock sign-in" in page
    unlock = reverse("staff_unlock", kwargs={"person_id": person.pk})
    response = client.post(unlock)
    assert response.status_code == 302 and response["Location"] == edit
    assert sign_in(person.username).status_code == 302
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert event.actor_username == msp_admin.username
    assert event.target_display == person.username and event.tenant_id == alpha.tenant.pk
    # The right password tried during the lockout counted as one more failure.
    failures = settings.AXES_FAILURE_LIMIT + 1
    assert event.before == {"attempts": [{"address": ATTACKER, "failures": failures}]}
    assert "Unlock sign-in" not in client.get(edit).content.decode()


def test_the_lockout_names_the_zone_of_its_last_failure(client, alpha, msp_admin, settings):
    """The staff pages span tenants: the last failure is told in the portal's zone, named."""
    person = alpha.technician
    lock_out(person.username)
    attempt = AccessAttempt.objects.get(username=person.username)
    signed_in(client, msp_admin)
    page = client.get(reverse("staff_edit", kwargs={"person_id": person.pk})).content.decode()
    at = attempt.attempt_time.astimezone(ZoneInfo(settings.TIME_ZONE))
    when = f"{at.day} {at:%b %Y %H:%M}"  # the pages' own format, as newcomer20 made it
    assert f"last {when} {settings.TIME_ZONE})" in page


def test_a_person_locked_out_again_after_an_unlock_is_recorded_again(client, alpha, msp_admin):
    person = alpha.technician
    lock_out(person.username)
    signed_in(client, msp_admin)
    client.post(reverse("staff_unlock", kwargs={"person_id": person.pk}))
    lock_out(person.username)
    assert AuditEvent.objects.filter(action="auth.locked_out").count() == 2


@pytest.mark.parametrize("role", ["technician", "client_admin", "account_manager"])
def test_only_msp_admins_unlock(client, alpha, role):
    person = alpha.technician
    lock_out(person.username)
    client.force_login(getattr(alpha, role))
    response = client.post(reverse("staff_unlock", kwargs={"person_id": person.pk}))
    assert response.status_code == 403
    assert sign_in(person.username).status_code == 429
    assert not AuditEvent.objects.filter(action="auth.unlocked").exists()


def test_an_unlock_in_the_django_admin_is_audited(client, alpha, msp_admin):
    person = alpha.technician
    lock_out(person.username)
    attempt = AccessAttempt.objects.get(username=person.username)
    signed_in(client, msp_admin)
    delete = reverse("admin:axes_accessattempt_delete", args=[attempt.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert sign_in(person.username).status_code == 302
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert event.actor_username == msp_admin.username and event.target_display == person.username


def test_a_bulk_delete_in_the_django_admin_is_audited_per_username(client, alpha, msp_admin):
    lock_out(alpha.technician.username)
    lock_out("nobody-has-this-name")
    signed_in(client, msp_admin)
    changelist = reverse("admin:axes_accessattempt_changelist")
    chosen = [str(pk) for pk in AccessAttempt.objects.values_list("pk", flat=True)]
    data = {"action": "delete_selected", "_selected_action": chosen, "post": "yes"}
    assert client.post(changelist, data).status_code == 302
    assert not AccessAttempt.objects.exists()
    unlocked = AuditEvent.objects.filter(action="auth.unlocked")
    assert sorted(e.target_display for e in unlocked) == ["nobody-has-this-name", "tech-alpha"]


@pytest.mark.parametrize(
    "command,args",
    [
        ("axes_reset", []),
        ("axes_reset_username", ["tech-alpha"]),
        ("axes_reset_ip", [ATTACKER]),
        ("axes_reset_ip_username", [ATTACKER, "tech-alpha"]),
    ],
)
def test_an_unlock_by_django_axes_commands_is_audited(alpha, command, args):
    """django-axes' own commands delete the attempts through its handler, which the portal's
    replaces: the same event as the staff page's, by the system, saying how."""
    person = alpha.technician
    lock_out(person.username)
    call_command(command, *args, stdout=io.StringIO())
    assert sign_in(person.username).status_code == 302
    event = AuditEvent.objects.get(action="auth.unlocked")
    assert event.actor_username == "system" and event.target_display == person.username
    assert event.before["attempts"][0]["address"] == ATTACKER
    assert "axes" in event.after["via"]


@pytest.mark.parametrize("command", ["axes_reset_logs", "axes_reset_failure_logs"])
def test_deleting_sign_in_logs_by_command_is_audited(alpha, command, settings):
    """The Django admin keeps django-axes' sign-in and failure logs read-only; its commands
    that delete them say so on the MSP-wide trail, with how many and how old."""
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True  # off unless the MSP turns it on
    sign_in(alpha.technician.username, "wrong")
    sign_in(alpha.technician.username)
    call_command(command, "--age", "0", stdout=io.StringIO())
    event = AuditEvent.objects.get(action="auth.logs_deleted")
    assert event.actor_username == "system" and event.tenant_id is None
    assert event.after["deleted"] >= 1 and event.after["older_than_days"] == 0
    assert "axes" in event.after["via"]
