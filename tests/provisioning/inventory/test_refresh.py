"""The inventory of a connection read through the real SDKs against the sandbox: a full read
of a directory that existed before the portal, then incremental reads that find changes made
behind the portal's back with a handful of calls, deletions, and a refused delta link that
starts a full read again."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.inventory import service
from provisioning.inventory.models import Account, Cursor
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories, user_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def dirs(on_sandbox):
    """An Entra directory and an Okta org, deleted afterwards: some tests make thousands of
    users, and the session's sandbox serves later tests."""
    made = make_directories(on_sandbox, f"inv{uuid.uuid4().hex[:10]}", kinds=("entra", "okta"))
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/entra/{made.entra_id}")
        control.delete(f"/_sandbox/okta/{made.okta_id}")


WAITS: list[float] = []


def paced(seconds: float) -> None:
    """The bucket's waits, taken and noted."""
    WAITS.append(seconds)
    time.sleep(seconds)


def refresh(dirs, kind: str) -> Cursor:
    cursor = service.refresh(dirs.tenant.connections.get(kind=kind), sleep=paced)
    assert cursor is not None
    assert cursor.state == Cursor.State.IDLE, cursor.last_error
    return cursor


def ids_by_name(dirs, path: str, name_key: str, id_key: str = "id") -> dict[str, str]:
    response = dirs.graph("GET", path)
    assert response.status_code == 200, response.text
    return {item[name_key]: item[id_key] for item in response.json()["value"]}


def graph_ok(dirs, method: str, path: str, body: dict | None = None) -> dict:
    response = dirs.graph(method, path, body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def account(dirs, remote_id: str) -> Account:
    return Account.objects.get(connection__tenant=dirs.tenant, remote_id=remote_id)


def requests_during(dirs, read) -> tuple[object, dict]:
    before = dirs.stats("entra")
    result = read()
    after = dirs.stats("entra")
    calls = {
        route: n - before["calls"].get(route, 0)
        for route, n in after["calls"].items()
        if n != before["calls"].get(route, 0)
    }
    return result, {"http_requests": after["http_requests"] - before["http_requests"], **calls}


@pytest.fixture
def existing(dirs):
    """Three people already in the Entra directory, with a group, a licence and an app."""
    domain = dirs.tenant.primary_domain
    people = {
        name: dirs.add_entra_user(f"{name}@{domain}", name.title(), "Existing")
        for name in ("ada", "bob", "cy")
    }
    groups = ids_by_name(dirs, "/groups", "displayName")
    skus = ids_by_name(dirs, "/subscribedSkus", "skuPartNumber", "skuId")
    apps = ids_by_name(dirs, "/servicePrincipals", "displayName")
    ada, bob = people["ada"]["id"], people["bob"]["id"]
    ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{ada}"}
    graph_ok(dirs, "POST", f"/groups/{groups['Staff']}/members/$ref", ref)
    graph_ok(dirs, "PATCH", f"/users/{ada}", {"usageLocation": "GB"})
    graph_ok(
        dirs,
        "POST",
        f"/users/{ada}/assignLicense",
        {"addLicenses": [{"skuId": skus["SPE_E3"], "disabledPlans": []}], "removeLicenses": []},
    )
    graph_ok(
        dirs,
        "POST",
        f"/servicePrincipals/{apps['Slack']}/appRoleAssignedTo",
        {
            "principalId": bob,
            "resourceId": apps["Slack"],
            "appRoleId": user_role(dirs, apps["Slack"]),
        },
    )
    graph_ok(dirs, "PATCH", f"/users/{bob}", {"department": "Finance", "employeeId": "E-42"})
    return {"people": people, "groups": groups, "skus": skus, "apps": apps}


def test_full_read_keeps_every_existing_account_with_its_access(dirs, existing):
    cursor = refresh(dirs, "entra")

    assert cursor.full and cursor.users_cursor and cursor.groups_cursor
    assert cursor.accounts_read == 3
    # The catalogue's three lists, groups delta, users delta, each of the two apps, sign-ins.
    assert cursor.pages_read == 8
    ada = account(dirs, existing["people"]["ada"]["id"])
    bob = account(dirs, existing["people"]["bob"]["id"])
    assert ada.username == f"ada@{dirs.tenant.primary_domain}"
    assert (ada.first_name, ada.last_name, ada.enabled) == ("Ada", "Existing", True)
    assert ada.group_ids == [existing["groups"]["Staff"]]
    assert ada.licence_ids == [existing["skus"]["SPE_E3"]]
    assert ada.app_ids == [] and ada.tenant_id == dirs.tenant.pk
    assert bob.app_ids == [existing["apps"]["Slack"]]
    assert (bob.department, bob.employee_id, bob.group_ids) == ("Finance", "E-42", [])
    assert not Account.objects.filter(connection__tenant=dirs.tenant, deleted=True).exists()


def test_incremental_read_finds_changes_made_behind_the_portals_back(dirs, existing):
    refresh(dirs, "entra")
    people, groups = existing["people"], existing["groups"]
    cy = people["cy"]["id"]
    graph_ok(dirs, "PATCH", f"/users/{cy}", {"accountEnabled": False, "department": "Ops"})
    ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{cy}"}
    graph_ok(dirs, "POST", f"/groups/{groups['Finance']}/members/$ref", ref)
    graph_ok(dirs, "DELETE", f"/groups/{groups['Staff']}/members/{people['ada']['id']}/$ref")
    dan = dirs.add_entra_user(f"dan@{dirs.tenant.primary_domain}", "Dan", "New")

    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    assert not cursor.full
    # users/delta and groups/delta; the catalogue knows every group met, and the apps'
    # assignments are not due yet (INVENTORY_APPS_SECONDS).
    assert calls["GET /v1.0/users/delta"] == 1 and calls["GET /v1.0/groups/delta"] == 1
    assert calls["http_requests"] == cursor.pages_read == 2, calls
    row = account(dirs, cy)
    assert (row.enabled, row.department, row.group_ids) == (False, "Ops", [groups["Finance"]])
    assert account(dirs, people["ada"]["id"]).group_ids == []
    assert account(dirs, dan["id"]).username == f"dan@{dirs.tenant.primary_domain}"
    assert cursor.accounts_read == 2  # cy and dan: what changed, not the directory


def test_a_deleted_account_is_marked_deleted_and_leaves_its_groups(dirs, existing):
    refresh(dirs, "entra")
    ada = existing["people"]["ada"]["id"]
    graph_ok(dirs, "DELETE", f"/users/{ada}")

    refresh(dirs, "entra")

    row = account(dirs, ada)
    assert row.deleted and row.group_ids == []
    assert not account(dirs, existing["people"]["bob"]["id"]).deleted


@pytest.mark.parametrize("mode", ["expire", "resync"])
def test_a_refused_delta_link_starts_a_full_read(dirs, existing, mode):
    first = refresh(dirs, "entra")
    graph_ok(dirs, "PATCH", f"/users/{existing['people']['bob']['id']}", {"department": "Legal"})
    with dirs.control() as control:
        control.post(f"/_sandbox/entra/{dirs.entra_id}/delta-reset", json={"mode": mode})

    cursor = refresh(dirs, "entra")

    assert cursor.full and cursor.users_cursor != first.users_cursor
    assert account(dirs, existing["people"]["bob"]["id"]).department == "Legal"
    assert account(dirs, existing["people"]["ada"]["id"]).group_ids == [existing["groups"]["Staff"]]
    assert Account.objects.filter(connection__tenant=dirs.tenant, deleted=False).count() == 3


def test_a_second_read_while_one_runs_does_nothing(dirs):
    connection = dirs.tenant.connections.get(kind="entra")
    Cursor.objects.create(
        connection=connection, state=Cursor.State.RUNNING, started_at=timezone.now()
    )

    assert service.refresh(connection, sleep=paced) is None
    assert not Account.objects.filter(connection=connection).exists()


def test_connections_fall_due_an_interval_after_their_last_read(dirs, settings):
    settings.INVENTORY_INTERVAL_SECONDS = 900
    entra = dirs.tenant.connections.get(kind="entra")
    okta = dirs.tenant.connections.get(kind="okta")
    assert {entra, okta} <= set(service.due_connections())  # never read

    refresh(dirs, "entra")
    Cursor.objects.create(connection=okta, finished_at=timezone.now() - timedelta(seconds=901))

    due = service.due_connections()
    assert okta in due and entra not in due
    assert entra in service.due_connections(timezone.now() + timedelta(seconds=901))


def okta_user(okta, dirs, name: str):
    from provisioning.connectors.base import NewUser

    domain = dirs.tenant.primary_domain
    new = NewUser(
        username=f"{name}@{domain}",
        first_name=name.title(),
        last_name="Okta",
        display_name=f"{name.title()} Okta",
        email=f"{name}@{domain}",
        password="Okta-Inventory-Pa55!",
    )
    return bridge.run(okta.create_user(new))


def test_okta_full_then_incremental_reads_by_last_updated(dirs):
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    eve, fay = okta_user(okta, dirs, "eve"), okta_user(okta, dirs, "fay")
    groups = {g.name: g.id for g in bridge.run(okta.groups())}
    apps = {a.name: a.id for a in bridge.run(okta.apps())}
    bridge.run(okta.add_to_group(eve.id, groups["Staff"]))
    bridge.run(okta.add_to_group(fay.id, groups["Staff"]))
    bridge.run(okta.assign_app(eve.id, apps["Slack"]))

    first = refresh(dirs, "okta")

    assert first.full
    assert account(dirs, eve.id).username == f"eve@{dirs.tenant.primary_domain}"
    assert account(dirs, eve.id).group_ids == [groups["Staff"]]
    assert account(dirs, fay.id).group_ids == [groups["Staff"]]
    assert account(dirs, eve.id).app_ids == [apps["Slack"]]

    bridge.run(okta.disable_user(eve.id))
    bridge.run(okta.remove_from_group(fay.id, groups["Staff"]))
    bridge.run(okta.add_to_group(fay.id, groups["Sales"]))
    second = refresh(dirs, "okta")

    assert not second.full
    assert not account(dirs, eve.id).enabled and account(dirs, fay.id).enabled
    assert account(dirs, eve.id).group_ids == [groups["Staff"]]
    assert account(dirs, fay.id).group_ids == [groups["Sales"]]


def test_okta_deleted_user_is_found_gone_by_the_daily_full_read(dirs, settings):
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    gone = okta_user(okta, dirs, "gil")
    refresh(dirs, "okta")
    bridge.run(okta.delete_user(gone.id))

    assert not refresh(dirs, "okta").full
    assert not account(dirs, gone.id).deleted  # Okta lists no deleted users by lastUpdated
    settings.INVENTORY_FULL_READ_SECONDS = 0
    assert refresh(dirs, "okta").full
    assert account(dirs, gone.id).deleted


def test_entra_sign_ins_come_with_full_reads_where_the_tenant_may_read_them(dirs, existing):
    ada, bob = existing["people"]["ada"]["id"], existing["people"]["bob"]["id"]
    with dirs.control() as control:
        control.put(f"/_sandbox/entra/{dirs.entra_id}/settings", json={"premium": True})
        recorded = control.post(
            f"/_sandbox/entra/{dirs.entra_id}/sign-ins",
            json={"sign_ins": [{"user": ada, "at": "2026-11-01T08:30:00Z"}]},
        )
        assert recorded.status_code == 200, recorded.text

    cursor = refresh(dirs, "entra")

    assert cursor.sign_ins_note == ""
    assert account(dirs, ada).last_sign_in.isoformat() == "2026-11-01T08:30:00+00:00"
    assert account(dirs, bob).last_sign_in is None


def test_entra_without_premium_reads_everything_but_sign_ins_and_says_why(dirs, existing):
    with dirs.control() as control:
        control.put(f"/_sandbox/entra/{dirs.entra_id}/settings", json={"premium": False})

    cursor = refresh(dirs, "entra")

    assert "premium" in cursor.sign_ins_note
    assert Account.objects.filter(connection__tenant=dirs.tenant, deleted=False).count() == 3


def test_a_directory_larger_than_a_page_is_read_whole(dirs):
    """1,500 generated users: users/delta pages, groups whose members span pages, apps whose
    assignments span pages of 999. The inventory holds what the directory holds."""
    with dirs.control() as control:
        made = control.post(
            f"/_sandbox/entra/{dirs.entra_id}/generate",
            json={"users": 1500, "groups": 5, "seed": 7, "app_share": 0.8},
        )
        assert made.status_code == 201, made.text
    made = made.json()

    cursor = refresh(dirs, "entra")

    rows = Account.objects.filter(connection__tenant=dirs.tenant, deleted=False)
    assert rows.count() == made["users"] == cursor.accounts_read
    assert cursor.pages_read > 10
    dynamic = ids_by_name(dirs, "/groups", "displayName")["Sales (dynamic)"]
    in_sales = rows.filter(department="Sales").count()
    assert in_sales and sum(dynamic in r.group_ids for r in rows) == in_sales
    # What the generator made, plus the dynamic group's members (not counted there).
    assert sum(len(r.group_ids) for r in rows) == made["memberships"] + in_sales
    assert sum(1 for r in rows if r.licence_ids) == made["licensed_users"]
    assert sum(len(r.app_ids) for r in rows) == made["app_role_assignments"]


def test_pages_are_paced_by_the_connections_bucket_and_429s_are_waited_out(dirs, existing):
    connection = dirs.tenant.connections.get(kind="entra")
    connection.rate_limit_per_s, connection.rate_burst = 20, 2
    connection.save()
    # The directory takes 2 calls a second, fewer than the bucket lets out: the 429s it
    # answers pause the connection for their Retry-After, and the page is asked again.
    dirs.behave("entra", rate_per_s=2, burst=2)
    WAITS.clear()

    before = dirs.stats("entra")
    cursor = refresh(dirs, "entra")

    assert WAITS  # eight calls through a bucket of two
    assert Account.objects.filter(connection=connection, deleted=False).count() == 3
    assert cursor.pages_read == 8
    assert dirs.stats("entra")["throttled"] > before["throttled"]  # 429s met, and waited out


def test_a_hundred_changes_behind_the_portals_back_cost_one_incremental_cycle(dirs):
    """3,000 users; 100 changes made through Graph (60 attributes, 20 disabled, 20 group
    adds); one incremental read finds all of them in a handful of requests."""
    with dirs.control() as control:
        made = control.post(
            f"/_sandbox/entra/{dirs.entra_id}/generate",
            json={"users": 3000, "groups": 5, "seed": 3, "app_share": 0.3},
        )
        assert made.status_code == 201, made.text
    refresh(dirs, "entra")
    ids = list(
        Account.objects.filter(connection__tenant=dirs.tenant, enabled=True)
        .order_by("remote_id")
        .values_list("remote_id", flat=True)[:100]
    )
    finance = ids_by_name(dirs, "/groups", "displayName")["Finance"]
    for user_id in ids[:60]:
        graph_ok(dirs, "PATCH", f"/users/{user_id}", {"jobTitle": "Changed by hand"})
    for user_id in ids[60:80]:
        graph_ok(dirs, "PATCH", f"/users/{user_id}", {"accountEnabled": False})
    for user_id in ids[80:]:
        ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{user_id}"}
        graph_ok(dirs, "POST", f"/groups/{finance}/members/$ref", ref)

    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    rows = Account.objects.filter(connection__tenant=dirs.tenant)
    assert rows.filter(attributes__jobTitle="Changed by hand").count() == 60
    assert set(
        rows.filter(enabled=False, remote_id__in=ids).values_list("remote_id", flat=True)
    ) == set(ids[60:80])
    assert all(finance in r.group_ids for r in rows.filter(remote_id__in=ids[80:]))
    assert not cursor.full and cursor.accounts_read == 80
    print("incremental cycle, 100 changes of 3,000 users:", calls)
    assert calls["http_requests"] == cursor.pages_read == 2, calls


def test_a_read_asked_for_on_demand_is_sent_after_commit_unless_one_runs(
    dirs, django_capture_on_commit_callbacks
):
    from provisioning.inventory.tasks import refresh_inventory, refresh_soon

    connection = dirs.tenant.connections.get(kind="entra")
    assert refresh_inventory(connection.pk) == "idle"  # the task's own work, run here
    assert refresh_inventory(0) == "gone"
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert refresh_soon(connection)
    assert len(sent) == 1

    Cursor.objects.filter(connection=connection).update(
        state=Cursor.State.RUNNING, started_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=False) as sent:
        assert not refresh_soon(connection)
    assert sent == []


def test_a_directory_that_refuses_the_read_leaves_the_rows_and_cursor_and_says_why(dirs, existing):
    first = refresh(dirs, "entra")
    connection = dirs.tenant.connections.get(kind="entra")
    connection.set_secret("not-the-secret")
    connection.save()

    failed = service.refresh(connection, sleep=paced)

    assert failed.state == Cursor.State.FAILED and failed.last_error
    assert failed.users_cursor == first.users_cursor and failed.finished_at
    assert Account.objects.filter(connection=connection, deleted=False).count() == 3


def test_an_unreadable_okta_cursor_starts_a_full_read(dirs):
    refresh(dirs, "okta")
    okta = dirs.tenant.connections.get(kind="okta")
    Cursor.objects.filter(connection=okta).update(users_cursor="not json")

    assert refresh(dirs, "okta").full


def test_app_assignments_are_read_with_full_reads_and_every_apps_interval(dirs, existing, settings):
    settings.INVENTORY_APPS_SECONDS = 3600
    refresh(dirs, "entra")
    cy, bob = existing["people"]["cy"]["id"], existing["people"]["bob"]["id"]
    slack = existing["apps"]["Slack"]
    graph_ok(
        dirs,
        "POST",
        f"/servicePrincipals/{slack}/appRoleAssignedTo",
        {"principalId": cy, "resourceId": slack, "appRoleId": user_role(dirs, slack)},
    )

    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    assert not cursor.full and not any("appRoleAssignedTo" in route for route in calls)
    assert account(dirs, cy).app_ids == []  # not read yet: at most an interval late

    settings.INVENTORY_APPS_SECONDS = 0
    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    assert not cursor.full
    assert calls["GET /v1.0/servicePrincipals/{id}/appRoleAssignedTo"] == 2  # one per app
    assert account(dirs, cy).app_ids == [slack]
    assert account(dirs, bob).app_ids == [slack]


def test_a_directory_that_keeps_failing_is_quarantined_and_no_longer_read(dirs, existing):
    from portal.audit.models import AuditEvent
    from provisioning import quarantine

    connection = dirs.tenant.connections.get(kind="entra")
    refresh(dirs, "entra")
    dirs.behave("entra", error_rate=1.0)

    failed = [service.refresh(connection, sleep=lambda seconds: None) for _ in range(5)]

    assert all(c.state == Cursor.State.FAILED for c in failed)
    assert "serviceNotAvailable" in failed[0].last_error or failed[0].last_error
    connection.refresh_from_db()
    assert connection.quarantined_at is not None
    assert quarantine.failure_share(connection)[0] == 5
    assert AuditEvent.objects.filter(action="connection.quarantine", target_id=str(connection.pk))
    later = timezone.now() + timedelta(days=1)
    assert connection not in service.due_connections(later)
    assert Account.objects.filter(connection=connection, deleted=False).count() == 3  # kept


def test_after_a_job_the_rows_show_its_end_state_without_an_inventory_read(dirs):
    """The engine's own reads (the plan's and the verification) update the inventory rows:
    an onboarding shows in both directories' rows as it ended, before any read."""
    from tests.provisioning.test_engine_e2e import onboard

    for kind in ("entra", "okta"):
        refresh(dirs, kind)  # the directories as they were: empty, the catalogue listed
    before = {
        c.connection_id: c.finished_at
        for c in Cursor.objects.filter(connection__tenant=dirs.tenant)
    }
    job = drive(onboard(dirs, first="Rowan", last="Reads"), max_runs=200)
    assert job.status == "succeeded", job.error

    entra = dirs.entra_user(job.identity.username)
    row = account(dirs, entra["id"])
    groups = ids_by_name(dirs, "/groups", "displayName")
    assert (row.username, row.enabled, row.deleted) == (job.identity.username, True, False)
    assert set(row.group_ids) == {groups[name] for name in entra["groups"]}
    assert row.licence_ids == [
        ids_by_name(dirs, "/subscribedSkus", "skuPartNumber", "skuId")["SPE_E3"]
    ]
    assert row.app_ids == [ids_by_name(dirs, "/servicePrincipals", "displayName")["Salesforce"]]
    assert (row.first_name, row.last_name, row.department) == ("Rowan", "Reads", "Sales")

    okta_user = dirs.okta_user(job.identity.username)
    okta_row = account(dirs, okta_user["id"])
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    okta_groups = {g.name: g.id for g in bridge.run(okta.groups())}
    okta_apps = {a.name: a.id for a in bridge.run(okta.apps())}
    # The user's groups as Okta lists them hold Everyone; the inventory leaves it out.
    assert sorted(okta_row.group_ids) == sorted([okta_groups["Staff"], okta_groups["Sales"]])
    assert okta_row.app_ids == [okta_apps["Salesforce"]] and okta_row.enabled
    after = {
        c.connection_id: c.finished_at
        for c in Cursor.objects.filter(connection__tenant=dirs.tenant)
    }
    assert after == before  # no inventory read in between


def test_a_read_counts_each_group_it_read_once(dirs):
    """The summary's "N groups" is the groups whose members the read listed. Okta's read lists
    the groups first, then each group's members: counted at both, the demo's Northwind read
    "26 groups" beside the 14 its page keeps (Everyone, built in, is not read: nobody is
    assigned to it)."""
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    groups = {g.name: g.id for g in bridge.run(okta.groups())}
    eve = okta_user(okta, dirs, "eve")
    bridge.run(okta.add_to_group(eve.id, groups["Staff"]))
    assigned = [name for name in groups if name != "Everyone"]

    assert refresh(dirs, "okta").groups_read == len(assigned)
