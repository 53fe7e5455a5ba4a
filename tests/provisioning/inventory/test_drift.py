"""Drift made behind the portal's back, found by an inventory read and converged, accepted or
dismissed, against the sandbox through the real SDKs.

Jobs run in this process as a worker would run them (tests/provisioning/
test_quarantine_breaker.drive); inventory reads run `service.refresh`, which ends with
`cycle.after_read` (scope, matching, then `drift.detect`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning.connectors.entra import EntraConnector
from provisioning.connectors.okta import OktaConnector
from provisioning.connectors.scim import ScimConnector
from provisioning.engine.desired import DesiredState
from provisioning.inventory import adoption_suggest, drift, drift_actions, drift_compare, service
from provisioning.inventory.models import Account, Cursor, Drift, Person, Policy, Resource
from provisioning.jobs import ask
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job, Step
from tenants.models import DirectoryConnection
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard
from tests.provisioning.test_engine_okta import okta_world
from tests.provisioning.test_quarantine_breaker import drive

pytestmark = pytest.mark.django_db

Kind, Status = Drift.Kind, Drift.Status
NO_DELETE = lifecycle.OffboardingOptions(delete_after_days=None)


@pytest.fixture
def dirs(on_sandbox):
    made = make_directories(on_sandbox, f"drift{uuid.uuid4().hex[:8]}", rate_limit_per_s=500)
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/entra/{made.entra_id}")


def read(dirs) -> Cursor:
    """One inventory cycle of the Entra connection (drift.detect runs at its end)."""
    cursor = service.refresh(dirs.tenant.connections.get(kind="entra"), sleep=lambda s: None)
    assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor.last_error
    return cursor


def joined(dirs, first: str) -> Identity:
    job = drive(onboard(dirs, first=first, last="Drift"))
    assert job.status == Job.Status.SUCCEEDED, job.error
    return Identity.objects.get(pk=job.identity_id)


def remote_id(identity: Identity) -> str:
    return identity.accounts.get().remote_id


def graph(dirs, method: str, path: str, body: dict | None = None) -> None:
    response = dirs.graph(method, path, body)
    assert response.status_code < 300, response.text


def group_id(dirs, name: str) -> str:
    return next(g["id"] for g in dirs.entra_state()["groups"] if g["displayName"] == name)


def add_to_group(dirs, identity: Identity, group: str) -> None:
    ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{remote_id(identity)}"}
    graph(dirs, "POST", f"/groups/{group_id(dirs, group)}/members/$ref", ref)


def open_items(identity: Identity) -> set[tuple]:
    """What the report lists for the person: (kind, access kind, name), open or converging."""
    return {
        (d.kind, d.access_kind, d.ref_name or d.ref_id)
        for d in Drift.objects.filter(identity=identity, status__in=Drift.OPEN_STATES)
    }


def held(dirs, identity: Identity) -> dict:
    user = dirs.entra_user(identity.username)
    return {
        "enabled": user["accountEnabled"],
        "groups": {g for g in user["groups"] if "(dynamic)" not in g},
    }


def test_drift_made_behind_the_portals_back_is_found_and_converged(dirs):
    ada, bea = joined(dirs, "Ada"), joined(dirs, "Bea")
    drive(lifecycle.request_offboarding(bea, NO_DELETE, actor="system"))
    read(dirs)
    assert open_items(ada) == set() and open_items(bea) == set()
    # Later than the replication window: within it, a job's first read waits for these
    # writes to show (engine/recent_writes.py), taking the admin's change below for lag.
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Step.objects.filter(job__identity__in=[ada, bea]).update(finished_at=an_hour_ago)

    # An admin, in the directory: Ada gets Finance, loses Staff and is blocked; Bea, who
    # has left, may sign in again.
    add_to_group(dirs, ada, "Finance")
    graph(dirs, "DELETE", f"/groups/{group_id(dirs, 'Staff')}/members/{remote_id(ada)}/$ref")
    graph(dirs, "PATCH", f"/users/{remote_id(ada)}", {"accountEnabled": False})
    graph(dirs, "PATCH", f"/users/{remote_id(bea)}", {"accountEnabled": True})
    read(dirs)

    assert open_items(ada) == {
        (Kind.EXTRA, "groups", "Finance"),
        (Kind.MISSING, "groups", "Staff"),
        (Kind.STATE, "", "sign-in"),
    }
    assert open_items(bea) == {(Kind.STATE, "", "sign-in")}
    extra = Drift.objects.get(identity=ada, kind=Kind.EXTRA)
    assert "Finance" in extra.detail and extra.account.remote_id == remote_id(ada)
    first_seen = extra.last_seen_at

    read(dirs)  # found again: the same rows, seen later
    extra.refresh_from_db()
    assert extra.status == Status.OPEN and extra.last_seen_at > first_seen
    assert Drift.objects.filter(identity=ada).count() == 3

    job = drift_actions.converge_person(ada.inventory_person, "system")
    assert set(Drift.objects.filter(identity=ada).values_list("status", flat=True)) == {
        Status.CONVERGING
    }
    second = drift_actions.converge(Drift.objects.get(identity=bea), "system")
    assert drive(job).status == Job.Status.SUCCEEDED
    assert drive(second).status == Job.Status.SUCCEEDED
    read(dirs)

    assert open_items(ada) == set() and open_items(bea) == set()
    assert set(Drift.objects.filter(tenant=dirs.tenant).values_list("status", flat=True)) == {
        Status.RESOLVED
    }
    assert held(dirs, ada) == {"enabled": True, "groups": {"Staff", "Sales"}}
    assert held(dirs, bea) == {"enabled": False, "groups": set()}
    converged = AuditEvent.objects.filter(action="drift.converge", tenant_id=dirs.tenant.pk)
    assert converged.count() == 2


def test_accepted_extra_access_becomes_an_exception_and_a_dismissal_holds(dirs):
    ada = joined(dirs, "Ada")
    read(dirs)
    add_to_group(dirs, ada, "Finance")
    add_to_group(dirs, ada, "VPN Users")
    read(dirs)
    finance = Drift.objects.get(identity=ada, ref_name="Finance")
    vpn = Drift.objects.get(identity=ada, ref_name="VPN Users")

    with pytest.raises(drift_actions.DriftError):
        drift_actions.accept(finance, "ok", "system")  # too short a reason
    drift_actions.accept(finance, "Finance approver while Bob is away", "system")
    drift_actions.dismiss(vpn, "Checked with the client: fine for now", "system")

    ada.refresh_from_db()
    connection = str(dirs.tenant.connections.get().pk)
    assert ada.access_exceptions[connection]["groups"] == [
        {"id": group_id(dirs, "Finance"), "name": "Finance"}
    ]
    event = AuditEvent.objects.get(action="drift.accept", tenant_id=dirs.tenant.pk)
    assert event.after["reason"] == "Finance approver while Bob is away"

    read(dirs)
    assert open_items(ada) == set()
    finance.refresh_from_db()
    vpn.refresh_from_db()
    assert (finance.status, vpn.status) == (Status.ACCEPTED, Status.DISMISSED)

    # A reconciliation keeps the exception (the dismissed group stays too: the portal did
    # not give it, so it takes it only when someone converges it).
    check = Job.objects.create(tenant=dirs.tenant, identity=ada, kind=Job.Kind.RECONCILE)
    ask(check, changed=False)
    assert drive(check).status == Job.Status.SUCCEEDED
    assert held(dirs, ada)["groups"] == {"Staff", "Sales", "Finance", "VPN Users"}

    # The dismissed difference goes, then comes back: it opens again.
    graph(dirs, "DELETE", f"/groups/{group_id(dirs, 'VPN Users')}/members/{remote_id(ada)}/$ref")
    read(dirs)
    vpn.refresh_from_db()
    assert vpn.status == Status.RESOLVED
    add_to_group(dirs, ada, "VPN Users")
    read(dirs)
    assert open_items(ada) == {(Kind.EXTRA, "groups", "VPN Users")}
    finance.refresh_from_db()
    assert finance.status == Status.ACCEPTED


def test_auto_converge_over_the_limit_is_held_for_confirmation(dirs, msp_admin):
    Policy.objects.update_or_create(tenant=dirs.tenant, defaults={"auto_converge": True})
    dirs.tenant.offboard_hold_count = 1
    dirs.tenant.save(update_fields=["offboard_hold_count"])
    people = [joined(dirs, name) for name in ("Ada", "Bea")]
    read(dirs)
    for person in people:
        add_to_group(dirs, person, "Finance")
    read(dirs)

    batch = Batch.objects.get(tenant=dirs.tenant, status=Batch.Status.HELD)
    assert "Auto-converge of drift would change 2" in batch.hold_reason
    jobs = list(batch.jobs.all())
    assert {j.status for j in jobs} == {Job.Status.HELD} and len(jobs) == 2
    assert set(Drift.objects.values_list("status", flat=True)) == {Status.CONVERGING}

    lifecycle.confirm_batch(batch, actor=msp_admin)
    for job in jobs:
        assert drive(job).status == Job.Status.SUCCEEDED
    read(dirs)
    assert set(Drift.objects.values_list("status", flat=True)) == {Status.RESOLVED}
    assert all(held(dirs, p)["groups"] == {"Staff", "Sales"} for p in people)


def test_a_person_with_a_job_in_flight_is_left_to_the_engine(dirs):
    ada = joined(dirs, "Ada")
    read(dirs)
    add_to_group(dirs, ada, "Finance")
    pending = Job.objects.create(tenant=dirs.tenant, identity=ada, kind=Job.Kind.RECONCILE)
    ask(pending, changed=False)
    counts = drift.detect(dirs.tenant)
    # The read before was the last; detect on its own does not read the directory either.
    assert counts["people_skipped"] == 1 and open_items(ada) == set()
    drive(pending)
    read(dirs)  # the job ended after the last read started: this read shows its result
    assert Person.objects.get(identity=ada).drift.count() == 1


def test_a_linked_account_deleted_by_hand_has_vanished(dirs):
    ada = joined(dirs, "Ada")
    read(dirs)
    graph(dirs, "DELETE", f"/users/{remote_id(ada)}")
    read(dirs)
    assert open_items(ada) == {(Kind.VANISHED, "", "account")}
    assert "deleted items" in Drift.objects.get(identity=ada).detail


# -- the comparison alone ----------------------------------------------------------------------

CATALOG = drift_compare.Catalog(
    [
        ("groups", "g-staff", "Staff", {}),
        ("groups", "g-vpn", "VPN Users", {}),
        ("groups", "g-dyn", "Sales (dynamic)", {"dynamic": True}),
        ("groups", "g-all", "Everyone", {"builtin": True}),
        ("licenses", "sku-e3", "SPE_E3", {}),
        ("apps", "app-slack", "Slack", {}),
    ]
)


def desired(**fields) -> DesiredState:
    names = {"username": "ada", "first_name": "Ada", "last_name": "L", "display_name": "Ada L"}
    return DesiredState(email="ada@x.test", **names, **fields)


def found(state: DesiredState, **held) -> set[tuple]:
    account = Account(
        remote_id="u1",
        enabled=held.pop("enabled", True),
        group_ids=held.get("groups", []),
        licence_ids=held.get("licenses", []),
        app_ids=held.get("apps", []),
    )
    return {
        (f.kind, f.access_kind, f.ref_id) for f in drift_compare.compare(state, account, CATALOG)
    }


def test_names_resolve_in_any_case_and_the_directorys_own_groups_never_count():
    state = desired(groups=("staff", "Sales (dynamic)"), licenses=("SPE_E3",))
    assert found(state, groups=["g-staff", "g-all"], licenses=["sku-e3"]) == set()
    assert found(state, groups=["g-dyn", "g-vpn"]) == {
        (Kind.MISSING, "groups", "g-staff"),
        (Kind.MISSING, "licenses", "sku-e3"),
        (Kind.EXTRA, "groups", "g-vpn"),
    }
    assert found(desired(groups=("Nope",))) == {(Kind.MISSING, "groups", "Nope")}


def test_a_leaver_keeps_only_the_kept_groups_unless_the_leave_keeps_access():
    strip = dict.fromkeys(("groups", "licenses", "apps"), "strip")
    leaving = desired(enabled=False, leaving=True, removal=strip, keep_groups=("vpn users",))
    held = {"groups": ["g-vpn", "g-staff"], "licenses": ["sku-e3"], "apps": ["app-slack"]}
    assert found(leaving, enabled=False, **held) == {
        (Kind.EXTRA, "groups", "g-staff"),
        (Kind.EXTRA, "licenses", "sku-e3"),
        (Kind.EXTRA, "apps", "app-slack"),
    }
    keep = dict.fromkeys(("groups", "licenses", "apps"), "keep")
    kept = desired(enabled=None, leaving=True, removal=keep)
    assert found(kept, **held) == set()  # and sign-in left as it is: not checked


def test_state_and_presence():
    assert found(desired(enabled=False), enabled=True) == {(Kind.STATE, "", "sign-in")}
    assert found(desired(), enabled=False) == {(Kind.STATE, "", "sign-in")}
    assert found(desired(present=False, enabled=False)) == {(Kind.STATE, "", "present")}
    gone = drift_compare.compare(desired(), None, CATALOG)
    assert [(f.kind, f.detail) for f in gone] == [(Kind.VANISHED, "The linked account is gone.")]
    assert drift_compare.compare(desired(leaving=True, enabled=False), None, CATALOG) == []
    # Whether the offboarding is done (the drift page's badge says "Left") or stopped part way
    # ("Leaver"), the item names what wants sign-in blocked (it said they were "leaving").
    [left] = drift_compare.compare(
        desired(leaving=True, enabled=False), Account(remote_id="u1", enabled=True), CATALOG,
        who="Ada Lovelace",
    )  # fmt: skip
    assert left.detail == (
        "Sign-in is allowed in the directory, but Ada Lovelace's offboarding blocks it."
    )


def test_an_app_named_with_its_role_is_the_app_the_account_holds():
    """A template's "Slack / Member" is the app Slack given with the role Member (as the
    engine assigns it, connectors/app_roles.py): holding Slack is neither missing nor extra."""
    state = desired(apps=("Slack / Member",))
    assert found(state, apps=["app-slack"]) == set()
    assert found(state) == {(Kind.MISSING, "apps", "app-slack")}
    assert found(desired(apps=("Zoom / Member",))) == {(Kind.MISSING, "apps", "Zoom / Member")}


def test_an_app_held_through_a_group_is_never_extra_on_its_own():
    """Okta's apps assigned to a group are held by its members: the group is compared, not
    the app (the demo's Northwind showed GlobalProtect VPN extra for every VPN Users member)."""
    granted = drift_compare.Catalog(
        [
            ("groups", "g-vpn", "VPN Users", {}),
            ("groups", "g-all", "Everyone", {"builtin": True}),
            ("apps", "app-vpn", "GlobalProtect VPN", {"granted_by": ["g-vpn"]}),
            ("apps", "app-slack", "Slack", {"granted_by": ["g-all"]}),
        ]
    )
    account = Account(remote_id="u1", enabled=True, group_ids=["g-vpn"], app_ids=["app-vpn"])
    assert drift_compare.compare(desired(groups=("VPN Users",)), account, granted) == []
    extra = drift_compare.compare(desired(), account, granted)
    assert [(f.kind, f.access_kind, f.ref_id) for f in extra] == [(Kind.EXTRA, "groups", "g-vpn")]
    account.group_ids, account.app_ids = [], ["app-vpn", "app-slack"]  # VPN given by hand
    extra = drift_compare.compare(desired(), account, granted)
    assert [(f.kind, f.access_kind, f.ref_id) for f in extra] == [(Kind.EXTRA, "apps", "app-vpn")]


def test_an_app_held_through_a_group_is_not_adopted_as_access_of_its_own(alpha):
    """Adopting such an account: the group is held (an exception where no template gives it),
    the app goes with it, as drift has it."""
    rows = [
        ("groups", "g-vpn", "VPN Users", {}),
        ("groups", "g-all", "Everyone", {"builtin": True}),
        ("apps", "app-vpn", "GlobalProtect VPN", {"granted_by": ["g-vpn"]}),
        ("apps", "app-slack", "Slack", {"granted_by": ["g-all"]}),
        ("apps", "app-crm", "Salesforce", {}),
    ]
    for kind, remote_id, name, detail in rows:
        Resource.objects.create(
            connection=alpha.connection, kind=kind, remote_id=remote_id, name=name, detail=detail
        )
    catalogue = adoption_suggest.Catalogue([alpha.connection])
    account = Account(
        connection=alpha.connection,
        group_ids=["g-vpn", "g-all"],
        app_ids=["app-vpn", "app-slack", "app-crm"],
    )
    held = adoption_suggest.held_of([account], catalogue)[alpha.connection.pk]
    assert held["groups"] == {"g-vpn"} and held["apps"] == {"app-crm"}
    account.group_ids = []  # VPN given by hand, not through its group
    held = adoption_suggest.held_of([account], catalogue)[alpha.connection.pk]
    assert held["apps"] == {"app-vpn", "app-crm"}


def test_an_okta_read_notes_the_groups_that_grant_each_app(on_sandbox):
    dirs = okta_world(on_sandbox)  # VPN assigned to Staff, Slack to Everyone
    job = drive(onboard(dirs))  # Sales: Staff, Sales and Salesforce
    assert job.status == Job.Status.SUCCEEDED, job.error
    connection = dirs.tenant.connections.get()
    cursor = service.refresh(connection, sleep=lambda s: None)
    assert cursor.state == Cursor.State.IDLE, cursor.last_error
    vpn = Resource.objects.get(connection=connection, kind="apps", name="VPN")
    staff = Resource.objects.get(connection=connection, kind="groups", name="Staff")
    assert vpn.detail["granted_by"] == [staff.remote_id]
    assert open_items(Identity.objects.get(pk=job.identity_id)) == set()


def test_adoption_resolves_an_app_named_with_its_role_too(alpha):
    Resource.objects.create(
        connection=alpha.connection, kind="apps", remote_id="app-slack", name="Slack"
    )
    catalogue = adoption_suggest.Catalogue([alpha.connection])
    assert catalogue.resolve(alpha.connection.pk, "apps", "slack / Member") == "app-slack"


def test_only_the_access_an_inventory_read_finds_is_compared():
    """The inventory reads no SCIM app's group members: comparing them made every person
    of a Slack role \"missing\" All Hands although the app held them (the demo's Contoso)."""
    assert drift.read_kinds(EntraConnector) == ("groups", "licenses", "apps")
    assert drift.read_kinds(OktaConnector) == ("groups", "apps")
    assert drift.read_kinds(ScimConnector) == ()


def test_a_scim_apps_groups_are_not_compared(alpha):
    slack = DirectoryConnection.objects.create(tenant=alpha.tenant, kind="scim", name="Slack")
    now = timezone.now()
    Cursor.objects.create(
        connection=slack, state="idle", full_read_at=now, started_at=now, finished_at=now
    )
    assert drift._observed(alpha.tenant)[slack.pk].kinds == ()
