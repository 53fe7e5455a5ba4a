"""The level-triggered engine on the races and surprises of issue 13: actions asked while an
earlier job of the person runs, a known account the directory no longer shows, a hard delete
of someone no longer leaving, drift behind the portal's back, access no template explains."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning import periodic, services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tenants.models import RoleTemplate
from tests.conftest import STARTED_WORKERS
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)

NO_DELETE = lifecycle.OffboardingOptions(delete_after_days=None)


def join(dirs, first="Ada", last="Lovelace") -> Job:
    request = services.OnboardingRequest(first, last, [dirs.template])
    username = services.suggest_username(dirs.tenant, request)
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def wait_for_step(job: Job, action: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not Step.objects.filter(job=job, action=action, status="succeeded").exists():
        assert time.monotonic() < deadline, f"no {action} step of job {job.pk} succeeded"
        time.sleep(0.05)


def held(dirs, upn: str) -> dict:
    """What the Entra directory shows of the person, read over HTTP."""
    user = dirs.entra_user(upn)
    if user is None:
        return {"present": False}
    return {
        "present": True,
        "enabled": user["accountEnabled"],
        "groups": {g for g in user["groups"] if "(dynamic)" not in g},
        "licenses": set(user["licenses"]),
        "apps": {a["app"] for a in user["appRoleAssignments"]},
    }


SALES = {
    "present": True,
    "enabled": True,
    "groups": {"Staff", "Sales"},
    "licenses": {"SPE_E3"},
    "apps": {"Salesforce"},
}
LEFT = {"present": True, "enabled": False, "groups": set(), "licenses": set(), "apps": set()}
# What the Support role gives: a mover from Sales keeps only this.
SUPPORT = {
    "present": True,
    "enabled": True,
    "groups": {"Staff", "Finance"},
    "licenses": set(),
    "apps": set(),
}


def support_template(dirs) -> RoleTemplate:
    return RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff", "Finance"], department="Support"
    )


def graph(dirs, method: str, path: str, body: dict | None = None):
    """An admin's change in the directory, behind the portal's back."""
    return dirs.graph(method, path, body).raise_for_status()


def group_id(dirs, name: str) -> str:
    return next(g["id"] for g in dirs.entra_state()["groups"] if g["displayName"] == name)


def test_a_leave_asked_while_the_join_runs_ends_with_the_person_left(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "racyleave")
    dirs.behave("entra", latency_ms=250)
    joining = join(dirs)
    wait_for_step(joining, "create_user")  # the join is under way, its adds not yet sent
    leave = lifecycle.request_offboarding(joining.identity, NO_DELETE, actor="system")
    assert wait_for_job(joining.pk).status == Job.Status.SUCCEEDED
    assert wait_for_job(leave.pk).status == Job.Status.SUCCEEDED
    dirs.behave("entra", latency_ms=0)
    upn = joining.identity.username
    assert held(dirs, upn) == LEFT
    identity = Identity.objects.get(pk=joining.identity_id)
    assert identity.status == Identity.Status.LEFT  # not set back to Active by the join
    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert restore.status == Job.Status.SUCCEEDED
    assert held(dirs, upn) == SALES
    assert Identity.objects.get(pk=identity.pk).status == Identity.Status.ACTIVE


def test_a_move_asked_before_the_joins_adds_leaves_only_the_new_role(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "racymove")
    support = support_template(dirs)
    dirs.behave("entra", latency_ms=250)
    joining = join(dirs)
    wait_for_step(joining, "create_user")
    change = lifecycle.ChangeRequest([support])
    move = lifecycle.request_change(joining.identity, change, actor="system")
    assert wait_for_job(joining.pk).status == Job.Status.SUCCEEDED
    assert wait_for_job(move.pk).status == Job.Status.SUCCEEDED
    dirs.behave("entra", latency_ms=0)
    assert held(dirs, joining.identity.username) == SUPPORT


@pytest.fixture
def short_window_worker(worker_factory):
    """A worker with a 3 s replication window, for this test only: left running, it would
    take later tests' jobs from the queue (a test that kills the session's worker mid-job
    would see the job end in this one, never resumed). It is alone on the queue meanwhile:
    beside the session's worker (a 30 s window), the leave ran there as often as not, and the
    test waited out that window instead (90 s instead of 15)."""
    paused = [started for started in STARTED_WORKERS if started.alive()]
    for started in paused:
        started.stop()
    extra = worker_factory(REPLICATION_WINDOW_SECONDS="3", JOB_LEASE_SECONDS="5")
    yield extra
    extra.stop()
    for started in paused:
        started.start()


def test_a_known_account_the_directory_does_not_show_is_waited_for_before_it_is_absent(
    on_sandbox, short_window_worker
):
    dirs = make_directories(on_sandbox, "vanished")
    joined = wait_for_job(join(dirs).pk)
    assert joined.status == Job.Status.SUCCEEDED
    account = joined.identity.accounts.get()
    graph(dirs, "DELETE", f"/users/{account.remote_id}")  # an admin deleted it meanwhile
    leave = wait_for_job(
        lifecycle.request_offboarding(joined.identity, NO_DELETE, actor="system").pk, timeout=120
    )
    assert leave.status == Job.Status.SUCCEEDED
    # The 404 for the id it knew made the leave wait out the window, not succeed at once.
    assert leave.options["missing_reads"] >= 1
    assert leave.verification["directories"][str(account.connection_id)] == {"account": "absent"}
    # Remembered as gone: a later check does not create a disabled account for them again.
    account.refresh_from_db()
    assert account.missing_since is not None
    later = timezone.now() + timedelta(days=1)
    assert periodic.reconcile_due_people(now=later) == 1
    check = wait_for_job(Job.objects.get(kind=Job.Kind.RECONCILE).pk)
    assert check.status == Job.Status.SUCCEEDED and check.steps.count() == 0
    upn = joined.identity.username
    same_name = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    assert [(u["id"], u["deleted"]) for u in same_name] == [(account.remote_id, True)]


def scheduled_delete(person: Identity, due) -> Job:
    return Job.objects.create(
        tenant=person.tenant,
        identity=person,
        kind=Job.Kind.DELETE,
        status=Job.Status.SCHEDULED,
        not_before=due,
    )


def test_a_hard_delete_never_runs_for_someone_no_longer_leaving(alpha, monkeypatch):
    from provisioning import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: None)
    person = alpha.identity
    Identity.objects.filter(pk=person.pk).update(status=Identity.Status.LEFT)
    person.refresh_from_db()
    due = timezone.now() + timedelta(days=30)
    deletion = scheduled_delete(person, due)
    lifecycle.request_restore(person, actor="system")  # cancels it at once
    deletion.refresh_from_db()
    assert deletion.status == Job.Status.CANCELLED
    # One scheduled behind the restore's back still finds them not leaving when it falls due.
    stray = scheduled_delete(person, due)
    assert lifecycle.start_due_jobs(now=due) == 0
    stray.refresh_from_db()
    person.refresh_from_db()
    assert stray.status == Job.Status.CANCELLED and "not leaving" in stray.error
    assert person.status == Identity.Status.JOINER


def test_drift_behind_the_portals_back_is_converged_and_recorded(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "drifty")
    joined = wait_for_job(join(dirs).pk)
    upn = joined.identity.username
    user_id = joined.identity.accounts.get().remote_id
    graph(dirs, "DELETE", f"/groups/{group_id(dirs, 'Sales')}/members/{user_id}/$ref")
    graph(dirs, "PATCH", f"/users/{user_id}", {"accountEnabled": False})
    assert held(dirs, upn)["groups"] == {"Staff"}
    later = timezone.now() + timedelta(days=1)
    assert periodic.reconcile_due_people(now=later) == 1
    check = Job.objects.get(identity=joined.identity, kind=Job.Kind.RECONCILE)
    assert wait_for_job(check.pk).status == Job.Status.SUCCEEDED
    assert held(dirs, upn) == SALES
    drift = AuditEvent.objects.get(action="identity.drift", job_id=str(check.pk))
    assert set(drift.after["differs"]) == {"Add to group Sales", f"Allow sign-in {upn}"}
    # Checked just now: not due again within the interval.
    assert periodic.reconcile_due_people() == 0


def test_a_leave_asked_with_a_move_keeps_no_exception_of_the_old_role(on_sandbox, worker):
    """The old role's access the portal gave is still held when the leave strips it (the
    move had not run yet): it is not access someone gave by hand, so a restore gives the new
    role only."""
    dirs = make_directories(on_sandbox, "moveleave")
    support = support_template(dirs)
    joined = wait_for_job(join(dirs).pk)
    assert held(dirs, joined.identity.username) == SALES
    with transaction.atomic():  # both asked before either job runs
        change = lifecycle.ChangeRequest([support])
        move = lifecycle.request_change(joined.identity, change, actor="system")
        leave = lifecycle.request_offboarding(joined.identity, NO_DELETE, actor="system")
    assert wait_for_job(move.pk).status == Job.Status.SUCCEEDED
    assert wait_for_job(leave.pk).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=joined.identity_id)
    assert identity.access_exceptions in ({}, {str(dirs.tenant.connections.get().pk): {}})
    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert restore.status == Job.Status.SUCCEEDED
    assert held(dirs, joined.identity.username) == SUPPORT


def test_access_no_template_explains_is_taken_at_the_leave_and_given_back_by_a_restore(
    on_sandbox, worker
):
    dirs = make_directories(on_sandbox, "excepted")
    joined = wait_for_job(join(dirs).pk)
    upn, user_id = joined.identity.username, joined.identity.accounts.get().remote_id
    finance = group_id(dirs, "Finance")
    directory = f"{dirs.server.url}/v1.0/directoryObjects/{user_id}"
    graph(dirs, "POST", f"/groups/{finance}/members/$ref", {"@odata.id": directory})
    leave = wait_for_job(
        lifecycle.request_offboarding(joined.identity, NO_DELETE, actor="system").pk
    )
    assert leave.status == Job.Status.SUCCEEDED
    assert held(dirs, upn) == LEFT
    identity = Identity.objects.get(pk=joined.identity_id)
    (recorded,) = identity.access_exceptions.values()
    assert recorded == {"groups": [{"id": finance, "name": "Finance"}]}
    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert restore.status == Job.Status.SUCCEEDED
    assert held(dirs, upn) == {**SALES, "groups": {"Staff", "Sales", "Finance"}}
