"""Credential expiry: read from the Entra app registration over the real sandbox, typed in
for Okta and SCIM, and `credential.expiring` told once per threshold per expiry date."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning.alerts import expiry
from provisioning.events.models import Event
from tests.provisioning.directories import entra_connection, make_directories

pytestmark = pytest.mark.django_db


def set_secret_end(dirs, when: datetime) -> None:
    connection = dirs.tenant.connections.get(kind="entra")
    with dirs.control() as c:
        c.put(
            f"/_sandbox/entra/{dirs.entra_id}/apps/{connection.client_id}/password-credentials",
            json={"endDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        ).raise_for_status()


def add_other_secret(dirs, when: datetime) -> None:
    connection = dirs.tenant.connections.get(kind="entra")
    with dirs.control() as c:
        c.post(
            f"/_sandbox/entra/{dirs.entra_id}/apps/{connection.client_id}/password-credentials",
            json={"displayName": "Old", "hint": "old", "endDateTime": when.isoformat()},
        ).raise_for_status()


def warnings(connection) -> list[dict]:
    told = Event.objects.filter(kind=Event.Kind.CREDENTIAL_EXPIRING).order_by("occurred_at")
    return [e.data for e in told if e.data["connection"]["id"] == connection.pk]


def test_the_entra_secret_in_use_is_read_from_the_app_registration(on_sandbox):
    dirs = make_directories(on_sandbox, "expiry-read")
    in_use_end = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    set_secret_end(dirs, in_use_end)
    add_other_secret(dirs, datetime.now(UTC) + timedelta(days=3))  # sooner, but not in use
    connection = dirs.tenant.connections.get(kind="entra")

    assert expiry.read_from_directory(connection) is True

    connection.refresh_from_db()
    assert connection.credential_expiry_read == in_use_end
    assert connection.credential_expiry_source == "directory"
    assert "the secret in use" in connection.credential_expiry_detail
    assert "hint ent" in connection.credential_expiry_detail
    [audited] = AuditEvent.objects.filter(action="connection.credential_expiry_read")
    assert audited.after["expires_at"] == in_use_end.isoformat()
    assert "the secret in use" in audited.after["chosen"]
    assert expiry.read_from_directory(connection) is True  # the same answer: nothing new
    assert AuditEvent.objects.filter(action="connection.credential_expiry_read").count() == 1


def test_the_daily_check_tells_the_directory_s_date_with_the_connection_page(on_sandbox):
    dirs = make_directories(on_sandbox, "expiry-check")
    # Noon, five days on: "5 days left" at any hour of today (now + 5 days and an hour is
    # tomorrow's date when the check runs after 23:00).
    noon = datetime.combine(timezone.localdate() + timedelta(days=5), time(12))
    set_secret_end(dirs, timezone.make_aware(noon).astimezone(UTC))
    connection = dirs.tenant.connections.get(kind="entra")

    assert expiry.check_all() == 1

    [told] = warnings(connection)
    assert told["days_left"] == 5 and told["source"] == "directory"
    assert told["connection"]["label"] == "Microsoft Entra ID"
    assert told["url"].endswith(f"/tenants/expiry-check/#connection-{connection.pk}")


def test_graph_answers_the_application_without_its_secret_text(on_sandbox):
    dirs = make_directories(on_sandbox, "expiry-graph")
    connection = dirs.tenant.connections.get(kind="entra")
    response = dirs.graph("GET", f"/applications(appId='{connection.client_id}')")
    assert response.status_code == 200
    assert response.json()["passwordCredentials"][0]["hint"] == "ent"
    assert response.json()["passwordCredentials"][0].get("secretText") is None


def at(days_before: int, expires_on) -> datetime:
    day = expires_on - timedelta(days=days_before)
    return timezone.make_aware(datetime(day.year, day.month, day.day, 6, 0))


def test_thresholds_are_told_once_each_and_a_new_date_starts_again(alpha):
    okta = alpha.okta_connection
    okta.secret_expires_on = timezone.localdate() + timedelta(days=60)
    okta.save()
    ends = okta.secret_expires_on

    runs = [expiry.check(okta, at(days, ends)) for days in (45, 30, 29, 7, 7, 2, 1, 1, 0, -3)]

    assert runs == [0, 1, 0, 1, 0, 0, 1, 0, 1, 0]
    assert [w["days_left"] for w in warnings(okta)] == [30, 7, 1, 0]
    assert {w["source"] for w in warnings(okta)} == {"typed in"}

    okta.secret_expires_on = ends + timedelta(days=365)  # a new token, a new date
    okta.save()
    assert expiry.check(okta, at(7, okta.secret_expires_on)) == 1
    assert [w["days_left"] for w in warnings(okta)][-1] == 7


def test_a_first_check_inside_a_threshold_tells_only_the_tightest(alpha):
    okta = alpha.okta_connection
    okta.secret_expires_on = timezone.localdate() + timedelta(days=3)
    okta.save()
    assert expiry.check(okta, timezone.now()) == 1
    assert expiry.check(okta, timezone.now()) == 0
    assert [w["days_left"] for w in warnings(okta)] == [3]


def test_a_scim_token_s_typed_in_date_is_told(alpha):
    from tenants.models import DirectoryConnection

    scim = DirectoryConnection(
        tenant=alpha.tenant,
        kind="scim",
        name="Slack",
        scim_base_url="https://slack.scim.test/v2",
        secret_expires_on=timezone.localdate() + timedelta(days=1),
    )
    scim.set_secret("scim-bearer-token")
    scim.save()
    assert expiry.check(scim, timezone.now()) == 1
    [told] = warnings(scim)
    assert told["connection"]["label"] == "Slack (SCIM)" and told["days_left"] == 1


def test_the_tenant_page_shows_the_expiry_and_its_source(client, alpha, msp_admin):
    alpha.okta_connection.secret_expires_on = timezone.localdate() + timedelta(days=6)
    alpha.okta_connection.save()
    client.force_login(msp_admin)
    page = client.get(f"/tenants/{alpha.tenant.slug}/").content.decode()
    # in the page's own words for a date ("Last full read 7 Dec 2026"), not ISO (newcomer19)
    day = timezone.localdate() + timedelta(days=6)
    assert f"expires {day.day} {day:%b %Y} (typed in)" in page
    assert "in 6 days" in page


def test_without_application_read_the_typed_in_date_stays(on_sandbox):
    import uuid

    from tenants.models import Tenant

    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    with on_sandbox.control() as c:
        c.post(
            "/_sandbox/entra/tenants",
            json={
                "tenant_id": tenant_id,
                "display_name": "No app read",
                "domains": ["noappread.example"],
                "apps": [
                    {
                        "client_id": client_id,
                        "client_secret": "narrow-secret",
                        "permissions": ["User.ReadWrite.All", "Group.ReadWrite.All"],
                    }
                ],
            },
        ).raise_for_status()
    tenant = Tenant.objects.create(name="Narrow", slug="narrow", primary_domain="narrow.example")
    typed = timezone.localdate() + timedelta(days=25)
    connection = entra_connection(
        on_sandbox, tenant, tenant_id, client_id, "narrow-secret", secret_expires_on=typed
    )

    assert expiry.read_from_directory(connection) is False
    assert expiry.check_all() == 1
    connection.refresh_from_db()
    assert connection.credential_expiry_read is None
    [told] = warnings(connection)
    assert told["source"] == "typed in" and told["days_left"] == 25
