"""The engine's promise under what a worker and a directory do in practice, driven in this
process and deterministic: a run frozen past its lease (another run takes the job over)
sends and writes nothing more once it wakes up; a read-back from a replica that has not
caught up with the round's writes is waited out, not counted as a difference."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning import services
from provisioning.access import services as ar
from provisioning.connectors import bridge
from provisioning.engine import choosing, elsewhere, executor, outcomes, serial
from provisioning.engine import steps as steps_module
from provisioning.engine.parking import make_due
from provisioning.engine.tasks import run_job
from provisioning.events.models import Event
from provisioning.lifecycle import services as lifecycle
from provisioning.models import AccessRequest, DirectoryAccount, Identity, Job, Step
from tenants.models import RoleTemplate
from tests.factories import make_person
from tests.provisioning.claims import ClaimMeanwhile
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app
from tests.provisioning.test_access_e2e import requestable

pytestmark = pytest.mark.django_db(transaction=True)


def lease_runs_out(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


def support_template(dirs, department: str = "Support") -> RoleTemplate:
    """The role a move takes the joiner to: Staff and VPN Users."""
    return RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff", "VPN Users"], department=department
    )


def onboard(dirs) -> Job:
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def test_a_run_whose_lease_ran_out_sends_nothing_more(on_sandbox, monkeypatch):
    """Run 1 of a join is frozen between two batches longer than its lease. Run 2 takes the
    job over and verifies it; a move follows and is verified. When run 1 wakes up it must
    not send the join's stale adds (undoing the move under two succeeded jobs), nor write
    a round or a second end on a job that has ended."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"lease{uuid.uuid4().hex[:6]}")
    support = support_template(dirs)
    join = onboard(dirs)

    real = executor.apply_batch
    calls = []

    def frozen_after_the_create(job, batch, account):
        calls.append(batch[0].action)
        if len(calls) == 2:  # the adds' batch, its intent not yet written: frozen here
            monkeypatch.setattr(executor, "apply_batch", real)
            lease_runs_out(job)
            assert drive(Job.objects.get(pk=job.pk)).status == Job.Status.SUCCEEDED
            identity = Identity.objects.get(pk=job.identity_id)
            change = lifecycle.ChangeRequest([support])
            move = lifecycle.request_change(identity, change, actor="system")
            assert drive(move).status == Job.Status.SUCCEEDED
            writes_before.update(sandbox_writes(dirs))
        return real(job, batch, account)

    writes_before = {}
    monkeypatch.setattr(executor, "apply_batch", frozen_after_the_create)
    executor.execute(join.pk)  # run 1, from its start to its wake-up
    assert calls[:2] == ["create_user", "add_group"]
    assert sandbox_writes(dirs) == writes_before  # nothing sent after it woke up
    upn = join.identity.username
    assert entra_access(dirs, upn) == (["Staff", "VPN Users"], [], [])
    join.refresh_from_db()
    assert join.status == Job.Status.SUCCEEDED and join.converged_version == 1
    finishes = AuditEvent.objects.filter(action="job.finish", job_id=join.pk)
    assert finishes.count() == 1
    assert join.steps.count() == join.steps_total


def test_a_call_still_on_its_way_from_a_run_that_lost_the_job_undoes_no_later_job(
    on_sandbox, monkeypatch
):
    """Run 1 of a join has sent its adds' `$batch` when its lease runs out (a worker frozen
    with the request on its way). If run 2 took the job over at once and a move then took
    the adds away, the batch arriving after would give them back under two succeeded jobs.
    Run 2 waits until no call of run 1's can still arrive (the window passes here without a
    sleep: the steps' start moved back); the batch lands meanwhile, and the runs after it
    read what it did."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"flight{uuid.uuid4().hex[:6]}")
    support = support_template(dirs)
    join = onboard(dirs)
    real = steps_module.apply_many
    waited = []

    def on_its_way(connector, steps, account):
        monkeypatch.setattr(steps_module, "apply_many", real)
        lease_runs_out(join)
        run_now(join.pk)  # run 2
        landed = None
        if Job.objects.get(pk=join.pk).waiting_reason.startswith("Waiting out"):
            waited.append(join.pk)
            landed = real(connector, steps, account)  # within the window run 2 waits out
            Step.objects.filter(job=join, status=Step.Status.RUNNING).update(
                started_at=timezone.now() - timedelta(minutes=5)
            )
        assert drive(Job.objects.get(pk=join.pk)).status == Job.Status.SUCCEEDED
        identity = Identity.objects.get(pk=join.identity_id)
        move = lifecycle.request_change(
            identity, lifecycle.ChangeRequest([support]), actor="system"
        )
        assert drive(move).status == Job.Status.SUCCEEDED
        return landed or real(connector, steps, account)  # else it lands now, late

    monkeypatch.setattr(steps_module, "apply_many", on_its_way)
    executor.execute(join.pk)  # run 1, up to its adds' batch
    assert entra_access(dirs, join.identity.username) == (["Staff", "VPN Users"], [], [])
    assert waited == [join.pk]


def sandbox_writes(dirs) -> dict:
    stats = dirs.stats("entra")
    return {k: v for k, v in stats["calls"].items() if not k.startswith("GET")}


def entra_access(dirs, upn):
    [user] = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    groups = sorted(g for g in user["groups"] if "dynamic" not in g)
    return groups, sorted(user["licenses"]), sorted(a["app"] for a in user["appRoleAssignments"])


def test_a_read_back_from_a_lagging_replica_is_waited_out_not_failed(on_sandbox, monkeypatch):
    """Entra accepts the round's group adds, but memberOf shows them only 1.5 s later. The
    read-back that finds them missing again must not replan them round after round until
    the job gives up ("still differ after 4 rounds"): it waits and reads again."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"stale{uuid.uuid4().hex[:6]}")
    dirs.behave("entra", read_lag_ms=1500)
    job = drive(onboard(dirs))
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.options["round"] == 1  # the adds were sent once: the reads waited
    assert list(job.steps.values_list("action", flat=True)) == [
        "create_user",
        "add_group",
        "add_group",
        "assign_license",
        "assign_app",
    ]
    assert entra_access(dirs, job.identity.username) == (
        ["Sales", "Staff"],
        ["SPE_E3"],
        ["Salesforce"],
    )


def test_a_plan_that_reads_slow_directories_keeps_its_lease(on_sandbox, monkeypatch, settings):
    """A plan reads every directory of the tenant one after another, each within the
    bridge's time limit. Slow but answering directories (here 0.6 s a call against a 1 s
    lease) must not let the lease lapse mid-plan: another worker would claim the job, and
    with every plan longer than a lease each run would lose the job to the next."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    settings.JOB_LEASE_SECONDS = 1
    dirs = make_directories(on_sandbox, f"slow{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    join = drive(onboard(dirs))  # warm: the catalogues are read, the accounts exist
    for kind in ("entra", "okta"):
        dirs.behave(kind, latency_ms=600)
    lapsed = []
    real = bridge.run

    def watched(coroutine, *args, **kwargs):
        job = Job.objects.filter(identity_id=join.identity_id).order_by("-pk").first()
        if job.status == Job.Status.RUNNING and job.lease_until < timezone.now():
            lapsed.append(job.pk)
        return real(coroutine, *args, **kwargs)

    monkeypatch.setattr(bridge, "run", watched)
    identity = Identity.objects.get(pk=join.identity_id)
    change = lifecycle.ChangeRequest([dirs.template], attributes={"office": "Leeds"})
    move = drive(lifecycle.request_change(identity, change, actor="system"))
    for kind in ("entra", "okta"):
        dirs.behave(kind, latency_ms=0)
    assert move.status == Job.Status.SUCCEEDED, move.error
    assert lapsed == [] and move.runs == 1


class Killed(BaseException):
    """What a SIGKILL leaves of a run: nothing after this point happens."""


@pytest.mark.parametrize(
    ("call", "batch"), [("entra $batch", 2), ("okta create", 3), ("scim create", 7)]
)
def test_a_join_killed_after_a_call_then_a_leave_ends_left_everywhere(
    on_sandbox, monkeypatch, call, batch
):
    """The worker dies after the directory took a call and before its outcome is written
    (the step stays Running, the account's id may be unknown); a leave is asked meanwhile.
    Once the lease has run out, the join is finished by another run and the leave follows:
    one account per directory, created once (a re-sent create links it), and left."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"kill{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    app = make_app(on_sandbox, "full", groups=["sales", "general"])
    scim = connect(dirs.tenant, app, "Slack")
    dirs.template.scim_apps = [{"connection": scim.pk, "groups": ["sales", "general"]}]
    dirs.template.save()
    real, calls = steps_module.write_outcomes, []

    def killed_at_the_batch(job, account, steps, settled):
        calls.append(steps[0].action)
        if len(calls) == batch:
            raise Killed
        return real(job, account, steps, settled)

    monkeypatch.setattr(steps_module, "write_outcomes", killed_at_the_batch)
    join = onboard(dirs)
    with pytest.raises(Killed):
        executor.execute(join.pk)
    monkeypatch.setattr(steps_module, "write_outcomes", real)
    assert Step.objects.filter(job=join, status=Step.Status.RUNNING).count() >= 1
    identity = Identity.objects.get(pk=join.identity_id)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    lease_runs_out(join)
    assert drive(join).status == Job.Status.SUCCEEDED
    assert drive(leave).status == Job.Status.SUCCEEDED, leave.error
    upn = identity.username
    [entra] = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    assert entra["accountEnabled"] is False and entra["licenses"] == []
    assert [g for g in entra["groups"] if "dynamic" not in g] == []
    assert entra["appRoleAssignments"] == []
    okta_state = dirs.okta_state()
    [okta] = [u for u in okta_state["users"] if u["profile"]["login"] == upn]
    assert okta["status"] == "SUSPENDED"
    assert not any(
        okta["id"] in g["members"] for g in okta_state["groups"] if g["type"] != "BUILT_IN"
    )
    assert not any(okta["id"] in a["user_ids"] for a in okta_state["apps"])
    [held] = [u for u in app.state()["users"] if u["userName"] == upn]
    assert held["active"] is False and app.groups_of(held["id"]) == set()
    assert join.steps.filter(action="create_user").count() == 3  # one per directory, once


def test_a_read_back_that_has_not_caught_up_never_verifies_a_later_ask(on_sandbox, monkeypatch):
    """A move to Support (Sales out, VPN Users in) is applied; the move back to Sales is
    asked before the read-back, which Entra serves from a replica that has not caught up:
    it still shows Sales and not VPN Users, which is what the newest ask wants. That read
    contradicts what the round has just done: it must not verify anything."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"stale{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = support_template(dirs, department="Sales")
    join = drive(onboard(dirs))
    identity = Identity.objects.get(pk=join.identity_id)
    dirs.behave("entra", read_lag_ms=1500)
    real, asked = executor.end_round, []

    def then_asked_back(job):
        if not asked:  # the move's round is applied: the move back comes before its read
            person = Identity.objects.get(pk=identity.pk)
            change = lifecycle.ChangeRequest([dirs.template])
            asked.append(lifecycle.request_change(person, change, actor="system"))
        return real(job)

    monkeypatch.setattr(executor, "end_round", then_asked_back)
    change = lifecycle.ChangeRequest([support])
    move = drive(lifecycle.request_change(identity, change, actor="system"))
    back = drive(asked[0])
    assert (move.status, back.status) == (Job.Status.SUCCEEDED, Job.Status.SUCCEEDED)
    dirs.behave("entra", read_lag_ms=0)
    assert entra_access(dirs, identity.username)[0] == ["Sales", "Staff"]


@pytest.mark.parametrize("kind", ["entra", "okta"])
def test_a_create_sent_again_before_the_directory_shows_the_first_links_it(
    on_sandbox, monkeypatch, kind
):
    """The create reached the directory but its answer was lost (here the worker died; a
    timeout does the same) and it is sent again while the new account is not replicated:
    "already exists", and the look-up of who holds the name finds nobody yet. That is the
    first attempt's account: the step waits for it and links it, it does not fail the job
    (and skip the directory's other steps)."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"again{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    dirs.behave(kind, replication_lag_ms=1500)
    real = steps_module.write_outcomes

    def killed_at_the_create(job, account, steps, settled):
        if steps[0].action == "create_user" and steps[0].connection.kind == kind:
            raise Killed
        return real(job, account, steps, settled)

    monkeypatch.setattr(steps_module, "write_outcomes", killed_at_the_create)
    join = onboard(dirs)
    with pytest.raises(Killed):
        drive(join)
    monkeypatch.setattr(steps_module, "write_outcomes", real)
    lease_runs_out(join)
    join = drive_in_time(join)
    dirs.behave(kind, replication_lag_ms=0)
    assert join.status == Job.Status.SUCCEEDED, join.error
    created = join.steps.get(action="create_user", connection__kind=kind)
    assert created.result.get("linked") and created.attempts >= 2
    upn = join.identity.username
    assert len([u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]) == 1
    assert len([u for u in dirs.okta_state()["users"] if u["profile"]["login"] == upn]) == 1


def drive_in_time(job: Job, runs: int = 40) -> Job:
    """As `drive`, but each come-back time is waited out (3 s at most): a directory's lag
    passes in real time."""
    return drive(job, runs, longest_wait=3.0)


def test_a_job_after_one_that_ended_unverified_waits_for_its_writes(on_sandbox, monkeypatch):
    """A move to Support adds VPN Users and takes Sales away, and another of its steps
    fails for good (the group was deleted meanwhile): the move ends Partially failed, with
    no read-back. The move back to Sales asked next reads at once, from a replica that has
    not caught up: it shows Staff and Sales, what the move back wants. That read must not
    verify anything: the account's recent writes are waited out, whichever job made them."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"after{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff", "VPN Users", "Finance"]
    )
    join = drive(onboard(dirs))
    identity = Identity.objects.get(pk=join.identity_id)
    a_while_ago = timezone.now() - timedelta(hours=1)  # joined long ago: a 404 is no lag
    identity.accounts.update(created_remotely_at=a_while_ago)
    [finance] = [g for g in dirs.entra_state()["groups"] if g["displayName"] == "Finance"]
    dirs.behave("entra", read_lag_ms=1500)
    real = executor.apply_batch

    def finance_deleted_first(job, batch, account):
        monkeypatch.setattr(executor, "apply_batch", real)
        assert dirs.graph("DELETE", f"/groups/{finance['id']}").status_code == 204
        return real(job, batch, account)

    monkeypatch.setattr(executor, "apply_batch", finance_deleted_first)
    move = drive(
        lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    )
    assert move.status == Job.Status.PARTIAL, move.error
    back = lifecycle.request_change(
        identity, lifecycle.ChangeRequest([dirs.template]), actor="system"
    )
    back = drive_in_time(back)
    dirs.behave("entra", read_lag_ms=0)
    assert back.status == Job.Status.SUCCEEDED, back.error
    assert entra_access(dirs, identity.username)[0] == ["Sales", "Staff"]


def test_a_run_whose_lease_ran_out_during_a_call_writes_no_outcome(on_sandbox, monkeypatch):
    """Run 1 of a join is stuck in its adds' call past its lease (a directory that hangs
    until the client gives up). Run 2 takes the job over and verifies it; a move to
    Support follows (Sales out, VPN Users in) and is verified. When run 1's call returns,
    its outcomes are stale: written, they would put back the join's record of what the
    portal gave (Sales, not VPN Users), and the move back would then leave VPN Users held."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"late{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = support_template(dirs, department="Sales")
    join = onboard(dirs)
    real = steps_module.write_outcomes

    def stuck_in_the_adds(job, account, steps, settled):
        if steps[0].action == "add_group":
            monkeypatch.setattr(steps_module, "write_outcomes", real)
            lease_runs_out(job)
            assert drive(Job.objects.get(pk=job.pk)).status == Job.Status.SUCCEEDED
            identity = Identity.objects.get(pk=job.identity_id)
            move = lifecycle.request_change(
                identity, lifecycle.ChangeRequest([support]), actor="system"
            )
            assert drive(move).status == Job.Status.SUCCEEDED
        return real(job, account, steps, settled)

    monkeypatch.setattr(steps_module, "write_outcomes", stuck_in_the_adds)
    executor.execute(join.pk)  # run 1, from its start to its late answer
    identity = Identity.objects.get(pk=join.identity_id)
    back = lifecycle.request_change(
        identity, lifecycle.ChangeRequest([dirs.template]), actor="system"
    )
    assert drive(back).status == Job.Status.SUCCEEDED, back.error
    assert entra_access(dirs, identity.username)[0] == ["Sales", "Staff"]


def test_a_run_whose_lease_ran_out_during_a_failed_read_keeps_the_jobs_record(
    on_sandbox, monkeypatch
):
    """Run 1's first read hangs past its lease and then fails (a timeout). Run 2 has taken
    the job over meanwhile and verified it in one round. Run 1 must not write its stale
    record of the job over run 2's (round 0, a failed read), which the job page and the
    next rounds go by: the rounds it records are those its audit trail shows."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"slowread{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    dirs.behave("entra", error_rate=1.0)
    real = executor.plan_failed

    def taken_over_meanwhile(job, connection, exc):
        monkeypatch.setattr(executor, "plan_failed", real)
        dirs.behave("entra", error_rate=0.0)
        lease_runs_out(job)
        assert drive(Job.objects.get(pk=job.pk)).status == Job.Status.SUCCEEDED
        return real(job, connection, exc)

    monkeypatch.setattr(executor, "plan_failed", taken_over_meanwhile)
    join = onboard(dirs)
    executor.execute(join.pk)  # run 1, from its start to its failed read
    join.refresh_from_db()
    plans = AuditEvent.objects.filter(action="job.plan", job_id=join.pk).count()
    assert join.status == Job.Status.SUCCEEDED
    assert (plans, join.options.get("round")) == (1, 1)


def test_a_run_whose_lease_ran_out_before_recording_exceptions_keeps_the_newer_record(
    on_sandbox, monkeypatch
):
    """Both directories hold Finance, which no template explains (added behind the
    portal's back). Run 1 of the leave reads Entra and is frozen before it records that
    exception. Run 2 takes the leave over, records Finance in both directories as the
    exceptions a restore gives back, strips it and verifies. When run 1 wakes up, its
    record of the person (read before run 2's) must not overwrite run 2's: written, it
    would drop the Okta exception, and the restore would not give Finance back there."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox, f"except{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"), licenses=[], apps=[]
    )
    join = drive(onboard(dirs))
    assert join.status == Job.Status.SUCCEEDED, join.error
    identity = Identity.objects.get(pk=join.identity_id)
    held_behind_the_back(dirs, identity.username, "Finance")
    real = executor.found

    def frozen_before_the_record(job, connection, account, plan):
        if job.kind == Job.Kind.LEAVE and plan.exceptions:
            monkeypatch.setattr(executor, "found", real)
            lease_runs_out(job)
            assert drive(Job.objects.get(pk=job.pk)).status == Job.Status.SUCCEEDED
        return real(job, connection, account, plan)

    monkeypatch.setattr(executor, "found", frozen_before_the_record)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    executor.execute(leave.pk)  # run 1, from its start to its wake-up
    leave.refresh_from_db()
    assert leave.status == Job.Status.SUCCEEDED and leave.runs == 2
    restore = lifecycle.request_restore(Identity.objects.get(pk=identity.pk), actor="system")
    assert drive(restore).status == Job.Status.SUCCEEDED, restore.error
    assert "Finance" in entra_access(dirs, identity.username)[0]
    okta_state = dirs.okta_state()
    [okta] = [u for u in okta_state["users"] if u["profile"]["login"] == identity.username]
    assert okta["id"] in next(g for g in okta_state["groups"] if g["name"] == "Finance")["members"]


def held_behind_the_back(dirs, username: str, group: str) -> None:
    """`group` added to the person's account in both directories by an admin, not the portal."""
    user = dirs.entra_user(username)
    entra_group = next(g for g in dirs.entra_state()["groups"] if g["displayName"] == group)
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}
    added = dirs.graph("POST", f"/groups/{entra_group['id']}/members/$ref", ref)
    assert added.status_code == 204, added.text
    okta_state = dirs.okta_state()
    [okta] = [u for u in okta_state["users"] if u["profile"]["login"] == username]
    okta_group = next(g for g in okta_state["groups"] if g["name"] == group)
    with dirs.control() as c:
        path = f"/okta/{dirs.okta_id}/api/v1/groups/{okta_group['id']}/users/{okta['id']}"
        headers = {"Authorization": f"SSWS {dirs.okta_id}-token"}
        assert c.put(path, headers=headers).status_code == 204


def test_a_run_whose_lease_ran_out_before_keeping_its_checklist_keeps_the_newer_one(
    on_sandbox, monkeypatch
):
    """A join puts the person in the distribution list Sales-All, which Exchange owns: a
    checklist item, not a step. Run 1 has planned and is frozen before it keeps that item;
    a move to Finance-All is asked, and run 2 takes the join over, plans the newer state
    and keeps its item (Finance-All). Run 1's stale list must not replace it: the job page
    would tell the technician to add them to Sales-All, and not to Finance-All."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    lists = [
        {"display_name": name, "mail_enabled": True, "security_enabled": False}
        for name in ("Sales-All", "Finance-All")
    ]
    dirs = make_directories(
        on_sandbox,
        f"list{uuid.uuid4().hex[:6]}",
        entra_extra={"groups": lists},
        licenses=[],
        apps=[],
    )
    request = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], extra_groups=["Sales-All"]
    )
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    real = elsewhere.keep

    def frozen_before_the_list(job, plans):
        monkeypatch.setattr(elsewhere, "keep", real)
        identity = Identity.objects.get(pk=job.identity_id)
        change = lifecycle.ChangeRequest([dirs.template], extra_groups=["Finance-All"])
        lifecycle.request_change(identity, change, actor="system")
        lease_runs_out(job)
        assert drive(Job.objects.get(pk=job.pk)).status == Job.Status.SUCCEEDED
        return real(job, plans)

    monkeypatch.setattr(elsewhere, "keep", frozen_before_the_list)
    executor.execute(join.pk)  # run 1, from its start to its wake-up
    join.refresh_from_db()
    assert join.status == Job.Status.SUCCEEDED and join.runs == 2
    assert [row["item"] for row in join.checklist] == [
        f"Add {username} to the distribution list Finance-All in Exchange"
    ]


def test_a_read_that_gets_no_answer_in_time_is_retried_then_gives_up(on_sandbox, monkeypatch):
    """Entra holds every call past the bridge's time limit (here cut to half a second). The
    plan's read is a transient failure like a 503: the job waits and reads again, then
    fails with the directory's silence, instead of dying with its worker's task each time
    and coming back after every lease, running for as long as the directory hangs."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(bridge.run, "__defaults__", (0.5,))
    monkeypatch.setattr(executor, "MAX_PLAN_ATTEMPTS", 3)
    dirs = make_directories(on_sandbox, f"hang{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    dirs.behave("entra", timeout_rate=1.0)
    job = drive(onboard(dirs))
    dirs.behave("entra", timeout_rate=0.0)
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("Gave up reading") and "No answer from the directory" in job.error
    assert job.runs == 3


def test_a_seat_count_that_gets_no_answer_in_time_still_asks_for_a_choice(on_sandbox, monkeypatch):
    """The join's licence step finds no free seat (an admin gave the last one away after
    the plan), and Entra then holds the read of the seat counts past the bridge's limit
    (cut to half a second here). The job must go on to its next read, which asks for a
    choice, rather than die with its task and stay Running until its lease runs out."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"seat{uuid.uuid4().hex[:6]}", seats=1, apps=[])
    real_batch, real_run = executor.apply_batch, bridge.run

    def seat_taken_first(job, batch, account):
        if not any(step.action == "assign_license" for step in batch):
            return real_batch(job, batch, account)
        monkeypatch.setattr(executor, "apply_batch", real_batch)
        give_last_seat_away(dirs)
        outcome = real_batch(job, batch, account)
        dirs.behave("entra", timeout_rate=1.0)  # the seat counts' read hangs
        return outcome

    def silent_once(coroutine, timeout=0.5):
        try:
            return real_run(coroutine, timeout)
        except TimeoutError:
            dirs.behave("entra", timeout_rate=0.0)
            raise

    monkeypatch.setattr(executor, "apply_batch", seat_taken_first)
    monkeypatch.setattr(bridge, "run", silent_once)
    job = onboard(dirs)
    for _ in range(50):  # until it stops: a job waiting for a choice is not done
        run_now(job.pk)
        job.refresh_from_db()
        if job.is_done or job.status == Job.Status.NEEDS_CHOICE:
            break
        time.sleep(0.2)
    assert job.status == Job.Status.NEEDS_CHOICE, job.error
    assert "SPE_E3" in job.waiting_reason


def give_last_seat_away(dirs) -> None:
    other = dirs.add_entra_user(f"late@{dirs.tenant.primary_domain}", "Late", "Comer")
    dirs.graph("PATCH", f"/users/{other['id']}", {"usageLocation": "GB"})
    skus = dirs.graph("GET", "/subscribedSkus").json()["value"]
    e3 = next(s["skuId"] for s in skus if s["skuPartNumber"] == "SPE_E3")
    body = {"addLicenses": [{"skuId": e3, "disabledPlans": []}], "removeLicenses": []}
    assert dirs.graph("POST", f"/users/{other['id']}/assignLicense", body).status_code == 200


def test_a_group_a_move_takes_away_is_not_kept_by_a_leave_asked_before_it_ran(
    on_sandbox, monkeypatch
):
    """A joiner with the extra group Managers is moved without it, then asked to leave
    keeping Managers, before the move's job has run: that job reads the leave already.
    Managers was the portal's to take away and the person no longer has it by the time
    they leave: it goes, as it does when the move runs before the leave is asked. The end
    state must not depend on when the jobs ran."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"keep{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    request = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], extra_groups=["Managers"]
    )
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    assert drive(join).status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)
    change = lifecycle.ChangeRequest([dirs.template], extra_groups=[])
    move = lifecycle.request_change(identity, change, actor="system")
    options = lifecycle.OffboardingOptions(keep_groups=["Managers"], delete_after_days=None)
    leave = lifecycle.request_offboarding(
        Identity.objects.get(pk=identity.pk), options, actor="system"
    )
    assert drive(move).status == Job.Status.SUCCEEDED
    assert drive(leave).status == Job.Status.SUCCEEDED, leave.error
    assert entra_access(dirs, username) == ([], [], [])


def test_a_create_that_clashes_after_its_lease_ran_out_keeps_the_newer_record(
    on_sandbox, monkeypatch
):
    """Run 1 of a join has marked its create running and is frozen as it hands the call
    over, longer than a call may take (so run 2 does not wait for it). Run 2
    takes the job over, creates the account and verifies the join. Run 1's create then
    reaches the directory: the name is taken, by the person's own account (run 2's), which
    the step would link. That record is stale (read before run 2 created the account):
    written, it would wipe the account's creation time, by which a read that cannot find
    a just-created account waits for replication instead of counting it gone."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"clash{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    real = steps_module.apply_one

    def frozen_before_the_create(connector, step, account):
        if step.action == "create_user":
            monkeypatch.setattr(steps_module, "apply_one", real)
            lease_runs_out(step.job)
            Step.objects.filter(pk=step.pk).update(started_at=step.started_at - timedelta(hours=1))
            assert drive(Job.objects.get(pk=step.job_id)).status == Job.Status.SUCCEEDED
        return real(connector, step, account)

    monkeypatch.setattr(steps_module, "apply_one", frozen_before_the_create)
    join = onboard(dirs)
    executor.execute(join.pk)  # run 1, from its start to its clash
    join.refresh_from_db()
    assert join.status == Job.Status.SUCCEEDED and join.runs == 2
    account = join.identity.accounts.get()
    created = join.steps.get(action="create_user")
    assert created.result.get("created") and not created.result.get("linked")
    assert account.remote_id == created.result["user_id"]
    assert account.created_remotely_at is not None


def test_a_replan_for_seats_after_its_lease_ran_out_keeps_the_newer_round(on_sandbox, monkeypatch):
    """Run 1's licence finds no free seat (an admin gave the last one away after the plan);
    run 1 reads the seat counts again to plan anew and is frozen in that read. Run 2 takes
    the job over: the seat is free again, so it plans a round that assigns the licence,
    whose call fails for now (a 503): the job waits with that step pending. When run 1
    wakes up, its replan must not mark the job unplanned: the next run would plan a third
    round and leave run 2's step pending for ever in a job that succeeds."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"reseat{uuid.uuid4().hex[:6]}", seats=1, apps=[])
    real_batch, real_connector = executor.apply_batch, choosing.connector_for

    def seat_taken_first(job, batch, account):
        if any(step.action == "assign_license" for step in batch):
            monkeypatch.setattr(executor, "apply_batch", real_batch)
            give_last_seat_away(dirs)
        return real_batch(job, batch, account)

    def failing_once(job, batch, account):
        monkeypatch.setattr(executor, "apply_batch", real_batch)
        dirs.behave("entra", error_rate=1.0)
        try:
            return real_batch(job, batch, account)
        finally:
            dirs.behave("entra", error_rate=0.0)

    def frozen_in_the_seat_read(connection):
        monkeypatch.setattr(choosing, "connector_for", real_connector)
        job = Job.objects.get(identity__username=username)
        take_the_seat_back(dirs)
        monkeypatch.setattr(executor, "apply_batch", failing_once)
        lease_runs_out(job)
        run_now(job.pk)  # run 2: its round's licence call fails for now
        job.refresh_from_db()
        assert (job.status, job.planned, job.runs) == (Job.Status.WAITING, True, 2)
        return real_connector(connection)

    monkeypatch.setattr(executor, "apply_batch", seat_taken_first)
    monkeypatch.setattr(choosing, "connector_for", frozen_in_the_seat_read)
    join = onboard(dirs)
    username = join.identity.username
    executor.execute(join.pk)  # run 1, from its start to its wake-up
    join = drive(Job.objects.get(pk=join.pk))
    assert join.status == Job.Status.SUCCEEDED, join.error
    assert join.options["round"] == 2
    assert not join.steps.filter(status=Step.Status.PENDING).exists()
    assigned = join.steps.filter(action="assign_license", status=Step.Status.SUCCEEDED)
    assert assigned.count() == 1


def take_the_seat_back(dirs) -> None:
    """The seat `give_last_seat_away` took, free again."""
    other = dirs.entra_user(f"late@{dirs.tenant.primary_domain}")
    skus = dirs.graph("GET", "/subscribedSkus").json()["value"]
    e3 = next(s["skuId"] for s in skus if s["skuPartNumber"] == "SPE_E3")
    body = {"addLicenses": [], "removeLicenses": [e3]}
    assert dirs.graph("POST", f"/users/{other['id']}/assignLicense", body).status_code == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two runs' transactions interleave on PostgreSQL; SQLite serialises writers",
)
def test_a_claim_while_a_run_records_its_outcomes_sees_them_or_refuses_them(
    on_sandbox, monkeypatch
):
    """Run 1's create succeeds after its lease ran out; its outcomes' statement finds the job
    still its own, and run 2 claims the job before run 1's transaction ends (the account's id
    is written by that statement on PostgreSQL: `accounts.record_of`). Run 2 then reads
    the person's accounts to plan from. Either run 2's claim waits for run 1's record (and
    reads it) or run 1's record is refused: never an id written behind the back of the run
    that holds the job, which planned without it (and would create the account again)."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"fence{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    real_write, real_written = steps_module.write_outcomes, steps_module._outcomes_written
    created = {}

    def lease_ran_out_during_the_create(job, account, steps, settled):
        if steps[0].action == "create_user":
            monkeypatch.setattr(steps_module, "write_outcomes", real_write)
            monkeypatch.setattr(steps_module, "_outcomes_written", claimed_after_the_fence)
            lease_runs_out(job)
            created["account"] = account.pk
            created["run 2"] = ClaimMeanwhile(job.pk, lambda: account_id(account.pk))
        return real_write(job, account, steps, settled)

    def claimed_after_the_fence(*args, **kwargs):
        monkeypatch.setattr(steps_module, "_outcomes_written", real_written)
        done = real_written(*args, **kwargs)
        created["run 2"].claim_meanwhile()
        return done

    monkeypatch.setattr(steps_module, "write_outcomes", lease_ran_out_during_the_create)
    join = onboard(dirs)
    executor.execute(join.pk)  # run 1, up to where it finds the job claimed
    run_2 = created["run 2"]
    run_2.finish()
    join.refresh_from_db()
    assert join.runs == 2
    assert run_2.seen == [account_id(created["account"])]
    lease_runs_out(join)  # run 2's worker stopped after its read: another run ends the join
    assert drive(join).status == Job.Status.SUCCEEDED


def account_id(pk: int) -> str:
    return DirectoryAccount.objects.get(pk=pk).remote_id


def left_with_delete_due(dirs) -> tuple[Job, Job]:
    """A joiner onboarded and offboarded with deletion at once: the join and the hard
    delete, now due and not yet run."""
    join = onboard(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    options = lifecycle.OffboardingOptions(delete_after_days=0)
    leave = lifecycle.request_offboarding(join.identity, options, actor="system")
    assert drive(leave).status == Job.Status.SUCCEEDED
    lifecycle.start_due_jobs(now=timezone.now() + timedelta(seconds=1))
    return join, Job.objects.get(identity_id=join.identity_id, kind=Job.Kind.DELETE)


def test_a_rehire_asked_while_the_hard_delete_runs_ends_with_one_live_account_each(
    on_sandbox, monkeypatch
):
    """A leaver's hard delete has deleted the Entra account when a rehire is asked (a new
    join: stored ids forgotten). Whichever job reads it, the end is the rehire's: one
    account per directory, enabled with the template's access, the person active; never
    the deleted account left behind, nor a second one."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"rehire{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    join, delete = left_with_delete_due(dirs)

    real = executor.apply_batch
    rehires = []

    def rehire_after_the_first_call(job, batch, account):
        outcome = real(job, batch, account)
        if not rehires:  # the Entra account deleted, the rest of the round still to come
            identity = Identity.objects.get(pk=job.identity_id)
            rehires.append(lifecycle.request_restore(identity, actor="system"))
        return outcome

    monkeypatch.setattr(executor, "apply_batch", rehire_after_the_first_call)
    assert drive(delete).status == Job.Status.SUCCEEDED
    monkeypatch.setattr(executor, "apply_batch", real)
    assert rehires[0].kind == Job.Kind.JOIN
    assert drive(Job.objects.get(pk=rehires[0].pk)).status == Job.Status.SUCCEEDED
    upn = join.identity.username
    entra = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == upn]
    assert [(u["accountEnabled"], u.get("deleted", False)) for u in entra] == [(True, False)]
    assert entra_access(dirs, upn) == (["Sales", "Staff"], ["SPE_E3"], ["Salesforce"])
    okta = dirs.okta_state()
    users = [u for u in okta["users"] if u["profile"]["login"] == upn]
    assert [u["status"] for u in users] == ["ACTIVE"]
    assert Identity.objects.get(pk=join.identity_id).status == Identity.Status.ACTIVE


def _joined_with_an_approver(on_sandbox, monkeypatch, prefix: str):
    """A joiner onboarded in Entra ID, a technician and a client admin of their tenant; jobs
    run only when the test drives them."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"{prefix}{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    tech = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    approver = make_person(f"ca-{dirs.tenant.slug}", Role.CLIENT_ADMIN, [dirs.tenant])
    join = onboard(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    return dirs, tech, approver, join


def test_a_removal_of_access_retried_after_it_failed_removes_it(on_sandbox, monkeypatch):
    """A grant is revoked and the Remove access job fails (the directory could not be
    read). A technician retries that job once the directory answers: the retry is the revoke
    asked again, so it succeeds only once the directory no longer holds the access, and the
    grant ends revoked. (It used to plan against the grant as live again, find the group
    held, say Succeeded and mark the grant revoked while the person kept the group.) The
    same for a failed grant retried."""
    dirs, tech, approver, join = _joined_with_an_approver(on_sandbox, monkeypatch, "retry")
    upn = join.identity.username
    vpn = requestable(dirs, "VPN Users")

    grant = ar.file_request(join.identity, vpn, reason="On call", ends_at=None, actor=tech)
    dirs.behave("entra", error_rate=1.0)  # no read goes through: the job gives up
    ar.approve(grant, actor=approver, reason="Agreed")
    grant.refresh_from_db()
    assert drive(grant.grant_job).status == Job.Status.FAILED
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.FAILED
    dirs.behave("entra", error_rate=0.0)
    services.retry_failed_steps(grant.grant_job, actor=tech)
    assert drive(Job.objects.get(pk=grant.grant_job_id)).status == Job.Status.SUCCEEDED
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.GRANTED
    assert entra_access(dirs, upn)[0] == ["Sales", "Staff", "VPN Users"]

    ar.revoke(grant, actor=tech, reason="Left the rota")
    grant.refresh_from_db()
    dirs.behave("entra", error_rate=1.0)
    assert drive(grant.end_job).status == Job.Status.FAILED
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.ENDING  # still not wanted: its removal failed
    dirs.behave("entra", error_rate=0.0)
    services.retry_failed_steps(grant.end_job, actor=tech)
    assert drive(Job.objects.get(pk=grant.end_job_id)).status == Job.Status.SUCCEEDED
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.REVOKED
    assert entra_access(dirs, upn)[0] == ["Sales", "Staff"]


def test_a_revoked_access_whose_removal_failed_is_not_given_back(on_sandbox, monkeypatch):
    """The Remove access job fails (the directory could not be read), and before anyone
    retries it the person is changed. The revoke still stands: the change's pass takes the
    group away, not back (the failure had made the grant live again, so every later pass of
    the person gave back what the client admin had revoked)."""
    dirs, tech, approver, join = _joined_with_an_approver(on_sandbox, monkeypatch, "revk")
    upn = join.identity.username
    grant = ar.file_request(
        join.identity, requestable(dirs, "VPN Users"), reason="On call", ends_at=None, actor=tech
    )
    ar.approve(grant, actor=approver, reason="Agreed")
    grant.refresh_from_db()
    assert drive(grant.grant_job).status == Job.Status.SUCCEEDED
    assert entra_access(dirs, upn)[0] == ["Sales", "Staff", "VPN Users"]

    ar.revoke(grant, actor=tech, reason="Left the rota")
    grant.refresh_from_db()
    dirs.behave("entra", error_rate=1.0)
    assert drive(grant.end_job).status == Job.Status.FAILED
    dirs.behave("entra", error_rate=0.0)
    identity = Identity.objects.get(pk=join.identity_id)
    change = lifecycle.ChangeRequest([dirs.template], attributes={"office": "Leeds"})
    assert drive(lifecycle.request_change(identity, change, actor=tech)).status == (
        Job.Status.SUCCEEDED
    )
    assert entra_access(dirs, upn)[0] == ["Sales", "Staff"]
    grant.refresh_from_db()
    assert grant.status == AccessRequest.Status.ENDING  # its own job has not succeeded yet


def test_a_run_frozen_between_its_intent_and_its_call_sends_nothing_late(
    on_sandbox, monkeypatch, settings
):
    """A worker frozen (SIGSTOP) after its adds' intent is written and before their
    `$batch` leaves, with a lease shorter than the bridge's call time (as the tests' workers
    run): the run that takes over waits out only a lease for the steps still running, then
    sends them itself and verifies; a move takes Sales away and is verified. When the frozen
    run wakes up, the lease has passed since its intent too: it must not send the stale
    adds then (Sales back under two succeeded jobs). Real time here, nothing moved back."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    settings.JOB_LEASE_SECONDS = 2
    dirs = make_directories(on_sandbox, f"frozen{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = support_template(dirs)
    join = onboard(dirs)
    real = steps_module.apply_many

    def frozen_before_the_call(connector, steps, account):
        monkeypatch.setattr(steps_module, "apply_many", real)
        Job.objects.filter(pk=join.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
        assert in_real_time(join).status == Job.Status.SUCCEEDED
        identity = Identity.objects.get(pk=join.identity_id)
        move = lifecycle.request_change(
            identity, lifecycle.ChangeRequest([support]), actor="system"
        )
        assert in_real_time(move).status == Job.Status.SUCCEEDED
        writes_before.update(sandbox_writes(dirs))
        return real(connector, steps, account)  # it wakes up: the call it was about to make

    writes_before = {}
    monkeypatch.setattr(steps_module, "apply_many", frozen_before_the_call)
    executor.execute(join.pk)  # run 1, from its start to its wake-up
    assert sandbox_writes(dirs) == writes_before  # nothing sent after it woke up
    assert entra_access(dirs, join.identity.username)[0] == ["Staff", "VPN Users"]


def in_real_time(job: Job) -> Job:
    """Run `job` until it ends, sitting out each come-back time for real (at most 3 s)."""
    for _ in range(200):
        make_due(job.pk)
        outcome = executor.execute(job.pk)
        job.refresh_from_db()
        if job.is_done:
            return job
        time.sleep(min(outcome.retry_in or 0.05, 3.0))
    raise AssertionError(f"job {job.pk} still {job.status}: {job.waiting_reason}")


def test_an_ask_made_while_the_verifying_read_runs_is_verified_by_the_same_run(
    on_sandbox, monkeypatch
):
    """A move asked while the join's verifying read is on its way: the join's end finds the
    person newer than the read it verified (its lock reads the whole row anyway), reads
    again against the move's state, applies it and verifies it, and the move's queued job is
    settled by that verification, all in the one run. The verifying round itself reads no
    person: a newer ask is caught at the end, where the person is read under lock."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"newer{uuid.uuid4().hex[:6]}")
    support = support_template(dirs)
    join = onboard(dirs)
    real = outcomes.account_read
    moves = []

    def ask_meanwhile(connection, user, access):
        real(connection, user, access)
        if not moves:  # the join's first read of the account: its verifying read
            identity = Identity.objects.get(pk=join.identity_id)
            change = lifecycle.ChangeRequest([support])
            moves.append(lifecycle.request_change(identity, change, actor="system"))

    monkeypatch.setattr(outcomes, "account_read", ask_meanwhile)
    executor.execute(join.pk)

    join.refresh_from_db()
    move = Job.objects.get(pk=moves[0].pk)
    assert join.status == Job.Status.SUCCEEDED, join.error
    assert join.converged_version == move.desired_version == 2
    assert move.status == Job.Status.SUCCEEDED and move.verification["by_job"] == join.pk
    assert entra_access(dirs, join.identity.username) == (["Staff", "VPN Users"], [], [])


def test_a_run_that_lost_the_job_before_its_end_leaves_the_person_and_events_alone(
    on_sandbox, monkeypatch
):
    """The job's end runs what follows a job (the person's new status, the job.succeeded
    event) before its fenced write of the job's row, which carries the person's: a run whose
    job another run claimed meanwhile writes none of it (the transaction rolls back)."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"lostend{uuid.uuid4().hex[:6]}")
    join = onboard(dirs)
    real = executor.end

    def claimed_first(job, status, *args, **kwargs):
        lease_runs_out(job)
        assert serial.claim(job.pk, 60)[0] is not None  # another run holds the job now
        return real(job, status, *args, **kwargs)

    monkeypatch.setattr(executor, "end", claimed_first)
    executor.execute(join.pk)

    join.refresh_from_db()
    identity = Identity.objects.get(pk=join.identity_id)
    assert join.status == Job.Status.RUNNING and join.runs == 2
    assert identity.status == Identity.Status.JOINER and identity.last_reconciled_at is None
    assert not Event.objects.filter(kind="job.succeeded").exists()
    assert not AuditEvent.objects.filter(action="job.finish", job_id=join.pk).exists()
    # The other run that claimed it is the test's: the job ends with the test.
    Job.objects.filter(pk=join.pk).update(status=Job.Status.CANCELLED, lease_until=None)
