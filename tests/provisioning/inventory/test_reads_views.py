"""The inventory reads as people see them: the status partial (live while a read runs or is
about to start), its page, the tenant page's line per connection, and "Read now" for the
operators (audited; nothing twice; not while quarantined). Other tenants 404, roles that
may not act 403."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.inventory import service, tasks
from provisioning.inventory.models import Account, Cursor, Resource

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
READERS = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


def url(world, name: str = "inventory_status", connection=None) -> str:
    connection = connection or world.connection
    return reverse(name, kwargs={"tenant": world.tenant.slug, "connection_id": connection.pk})


def running(world) -> Cursor:
    return Cursor.objects.create(
        connection=world.connection,
        state=Cursor.State.RUNNING,
        full=True,
        started_at=timezone.now(),
        accounts_read=1998,
        groups_read=28,
        pages_read=5,
    )


def test_every_role_of_the_tenant_sees_a_read_going_on_live(client, alpha):
    running(alpha)
    for role in READERS:
        client.force_login(alpha.people[role])

        partial = client.get(url(alpha), **HX).content.decode()

        assert 'data-state="running"' in partial and 'hx-trigger="every 2s"' in partial
        assert "Full read" in partial and "1998 accounts, 28 groups, 5 directory calls" in partial
        assert "<html" not in partial
        assert "Read now" not in partial  # not while it runs, whoever asks


def test_a_finished_read_stops_polling_and_says_how_it_went(client, alpha):
    Cursor.objects.create(
        connection=alpha.connection,
        state=Cursor.State.FAILED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
        full_read_at=timezone.now(),
        last_error="Neither tenant is B2C or tenant doesn't have premium license",
        sign_ins_note="AuditLog.Read.All missing",
    )
    client.force_login(alpha.technician)

    partial = client.get(url(alpha), **HX).content.decode()

    assert "every 2s" not in partial and 'data-state="failed"' in partial
    assert "last read failed" in partial and "premium license" in partial
    assert "Sign-ins not read: AuditLog.Read.All missing" in partial and "Read now" in partial


def test_its_page_shows_what_is_kept(client, alpha):
    for n in range(3):
        Account.objects.create(
            connection=alpha.connection,
            tenant=alpha.tenant,
            remote_id=f"id-{n}",
            enabled=n != 0,
            deleted=n == 2,
        )
    Resource.objects.create(connection=alpha.connection, kind="groups", remote_id="g", name="G")
    client.force_login(alpha.account_manager)

    page = client.get(url(alpha)).content.decode()

    assert "<html" in page and "Microsoft Entra ID inventory" in page
    assert "2 (1 may sign in)" in page and "never read" in page
    assert reverse("people_list", kwargs={"tenant": alpha.tenant.slug}) in page


def test_the_tenant_page_has_a_line_per_connection(client, alpha):
    running(alpha)
    client.force_login(alpha.technician)

    page = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))

    body = page.content.decode()
    assert f'id="inventory-{alpha.connection.pk}"' in body
    assert f'id="inventory-{alpha.okta_connection.pk}"' in body
    assert 'data-state="running"' in body and 'data-state="never"' in body
    assert url(alpha, "inventory_refresh", alpha.okta_connection) in body


def test_read_now_starts_a_read_after_the_commit_and_is_audited(
    client, alpha, django_capture_on_commit_callbacks
):
    client.force_login(alpha.technician)

    with django_capture_on_commit_callbacks(execute=False) as sent:
        partial = client.post(url(alpha, "inventory_refresh"), **HX).content.decode()

    assert len(sent) == 1
    assert "Reading the Microsoft Entra ID directory now." in partial
    assert 'data-state="starting"' in partial and "every 2s" in partial and "asked=" in partial
    event = AuditEvent.objects.get(action="inventory.refresh")
    assert event.target_id == str(alpha.connection.pk) and event.tenant_id == alpha.tenant.pk
    assert event.actor_username == alpha.technician.username

    with django_capture_on_commit_callbacks(execute=False) as sent:
        response = client.post(url(alpha, "inventory_refresh"))
    assert response.status_code == 302 and len(sent) == 1


def test_read_now_when_quarantined_starts_nothing(
    client, alpha, django_capture_on_commit_callbacks
):
    alpha.okta_connection.quarantined_at = timezone.now()
    alpha.okta_connection.save()
    client.force_login(alpha.technician)

    with django_capture_on_commit_callbacks(execute=False) as sent:
        held = client.post(
            url(alpha, "inventory_refresh", alpha.okta_connection), **HX
        ).content.decode()

    assert sent == [] and not AuditEvent.objects.filter(action="inventory.refresh").exists()
    assert "quarantined: no read until it is released" in held


def test_read_now_while_one_runs_queues_one_read_after_it(
    client, alpha, django_capture_on_commit_callbacks, monkeypatch
):
    """A technician who has just changed something in the directory wants a read that starts
    after their click; the running one may have read past it. "Running already" lost the
    click."""
    running(alpha)
    queued = []
    monkeypatch.setattr(tasks.refresh_inventory_after, "delay", queued.append)
    client.force_login(alpha.technician)
    assert "Read again once this one ends" in client.get(url(alpha), **HX).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(url(alpha, "inventory_refresh"), **HX).content.decode()
        again = client.post(url(alpha, "inventory_refresh"), follow=True).content.decode()

    assert queued == [alpha.connection.pk]  # one read follows, however often it is asked
    assert "another starts once it ends and sees your changes" in asked
    assert "Another read follows this one" in asked and 'data-state="running"' in asked
    assert "Read again once this one ends" not in asked
    assert "and another follows it already" in again
    assert AuditEvent.objects.filter(action="inventory.refresh").count() == 1


def test_the_read_that_follows_is_shown_until_a_read_starts(client, alpha):
    cursor = running(alpha)
    Cursor.objects.filter(pk=cursor.pk).update(
        state=Cursor.State.IDLE, finished_at=timezone.now(), follow_up_at=timezone.now()
    )
    client.force_login(alpha.technician)

    partial = client.get(url(alpha), **HX).content.decode()
    assert 'data-state="starting"' in partial and "every 2s" in partial  # it polls on
    assert "Another read follows" in partial

    assert service._claim(alpha.connection) is not None  # a read starts: it is the one
    assert Cursor.objects.get(pk=cursor.pk).follow_up_at is None


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_roles_that_may_not_act_get_403_and_start_nothing(
    client, alpha, role, django_capture_on_commit_callbacks
):
    client.force_login(alpha.people[role])
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert client.post(url(alpha, "inventory_refresh")).status_code == 403
    assert sent == []
    assert "Read now" not in client.get(url(alpha), **HX).content.decode()


def test_another_tenants_connection_is_404_and_methods_are_checked(client, alpha, bravo):
    client.force_login(alpha.technician)
    assert client.get(url(bravo)).status_code == 404
    assert client.post(url(bravo, "inventory_refresh")).status_code == 404
    mixed = reverse(
        "inventory_status",
        kwargs={"tenant": alpha.tenant.slug, "connection_id": bravo.connection.pk},
    )
    assert client.get(mixed).status_code == 404
    assert client.get(url(alpha, "inventory_refresh")).status_code == 405
    assert client.post(url(alpha)).status_code == 405
    assert client.get(url(alpha) + "?asked=" + "9" * 60).status_code == 400
    assert client.get(url(alpha) + "?asked=-1").status_code == 400


def test_a_read_that_just_ended_says_just_now_not_0_minutes_ago(client, alpha):
    now = timezone.now()
    Cursor.objects.create(connection=alpha.connection, started_at=now, finished_at=now)
    alpha.connection.secret_set_at = now
    alpha.connection.save(update_fields=["secret_set_at"])
    client.force_login(alpha.technician)
    body = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    body = body.content.decode()
    assert "Read just now" in body and "set just now" in body
    assert "0 minutes ago" not in body


def test_a_scim_apps_inventory_page_tells_what_it_reads(client, alpha):
    """A SCIM app's page lists no licences and no apps (it has neither), says each read is a
    full read of its users without its groups' members, and its last read does not claim
    "0 groups" beside a catalogue of three."""
    from tenants.models import DirectoryConnection

    slack = DirectoryConnection.objects.create(tenant=alpha.tenant, kind="scim", name="Slack")
    for n in range(3):
        Resource.objects.create(connection=slack, kind="groups", remote_id=f"g{n}", name=f"G{n}")
    now = timezone.now()
    Cursor.objects.create(
        connection=slack,
        state=Cursor.State.IDLE,
        full=True,
        started_at=now,
        finished_at=now,
        full_read_at=now,
        accounts_read=27,
        pages_read=3,
    )
    client.force_login(alpha.technician)

    page = client.get(url(alpha, connection=slack)).content.decode()

    kept = page[page.index("<h2>What is kept</h2>") : page.index("<h2>How it is read</h2>")]
    assert "<dt>Groups</dt><dd>3</dd>" in kept
    assert "<dt>Licences</dt>" not in kept and "<dt>Apps</dt>" not in kept
    read = page[page.index("<h2>How it is read</h2>") :]
    assert "every account of the app" in read and "delta" not in read
    assert "27 accounts, 3 directory calls" in page and "0 groups" not in page
    assert "kept current by reading them all again" in page


def test_the_reads_times_are_in_the_tenants_zone_as_on_the_rest_of_its_page(client, alpha):
    """Fabrikam's (New York) page read "Last full read 6 Dec 2026 05:54." in UTC beside its
    other times in its own zone."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    at = datetime(2026, 12, 3, 14, 30, 5, tzinfo=UTC)
    Cursor.objects.create(
        connection=alpha.connection,
        state=Cursor.State.RUNNING,
        full=True,
        started_at=at,
        finished_at=at,
        full_read_at=at,
    )
    client.force_login(alpha.technician)
    partial = client.get(url(alpha), **HX).content.decode()
    assert "since 3 Dec 2026 09:30:05" in partial
    assert "Last full read 3 Dec 2026 09:30 (America/New_York)." in partial
    assert "14:30" not in partial
    page = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert "Last full read 3 Dec 2026 09:30 (America/New_York)." in page.content.decode()
