"""The person's own alert settings page: each role sees the alerts it may choose, saves them
(audited), gets a clear refusal for bad input, and can reach nobody else's choice."""

import pytest

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.alerts.models import AlertPreference, Delivery
from provisioning.alerts.rules import preferences_of

pytestmark = pytest.mark.django_db
URL = "/account/alerts/"


def person(alpha, msp_admin, role):
    return msp_admin if role == Role.MSP_ADMIN else alpha.people[role]


@pytest.mark.parametrize(
    "role, shown, defaults",
    [
        (Role.MSP_ADMIN, 3, ("job_failures", "connection_changes", "credential_expiry")),
        (Role.TECHNICIAN, 3, ("job_failures", "connection_changes")),
        (Role.ACCOUNT_MANAGER, 3, ()),
        (Role.CLIENT_ADMIN, 1, ()),
    ],
)
def test_each_role_sees_its_choices_and_defaults(client, alpha, msp_admin, role, shown, defaults):
    user = person(alpha, msp_admin, role)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert len(response.context["form"].fields) == shown + 1  # + delivery
    wanted = preferences_of(user)
    chosen = tuple(
        n for n in ("job_failures", "connection_changes", "credential_expiry") if getattr(wanted, n)
    )
    assert chosen == defaults and wanted.delivery == Delivery.IMMEDIATE


def test_saving_is_audited_and_only_changes_my_own(client, alpha, bravo):
    client.force_login(alpha.technician)
    response = client.post(
        URL,
        {"job_failures": "on", "credential_expiry": "on", "delivery": "digest", "user": "1"},
    )
    assert response.status_code == 302
    mine = AlertPreference.objects.get(user=alpha.technician)
    assert (mine.job_failures, mine.connection_changes, mine.credential_expiry) == (
        True,
        False,
        True,
    )
    assert mine.delivery == Delivery.DIGEST
    assert not AlertPreference.objects.exclude(user=alpha.technician).exists()
    [event] = AuditEvent.objects.filter(action="staff.alert_settings")
    assert event.after["delivery"] == "digest" and event.before["connection_changes"] is True


def test_a_client_admin_cannot_switch_on_what_is_not_offered(client, alpha):
    client.force_login(alpha.client_admin)
    client.post(URL, {"job_failures": "on", "connection_changes": "on", "delivery": "immediate"})
    saved = AlertPreference.objects.get(user=alpha.client_admin)
    assert saved.job_failures is True and saved.connection_changes is False


@pytest.mark.parametrize("delivery", ["weekly", "", "\x00", "immediate" * 50])
def test_bad_input_is_refused_and_changes_nothing(client, alpha, delivery):
    client.force_login(alpha.technician)
    response = client.post(URL, {"job_failures": "on", "delivery": delivery})
    assert response.status_code == 200
    assert response.context["form"].errors["delivery"]
    assert not AlertPreference.objects.exists()
    assert not AuditEvent.objects.filter(action="staff.alert_settings").exists()


def test_signed_out_people_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_user_without_a_staff_role_is_refused(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nobody", password="x" * 20))
    assert client.get(URL).status_code == 403
