"""Okta joiners created already in their groups (`groupIds`, engine/create_groups.py) under
the convergence check's faults: answers lost after the create landed, a worker killed
between the create's send and its outcome, a group deleted or the role changed meanwhile.
The end state is the one asked last: the Okta account holds the groups asked and no group
the portal put it in that is no longer wanted."""

from __future__ import annotations

import time
import uuid

import pytest

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.connectors import bridge, okta
from provisioning.connectors.factory import connector_for
from provisioning.engine import steps as steps_module
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tests.provisioning.conftest import drive, lease_runs_out, run_now
from tests.provisioning.directories import GROUPS, make_directories
from tests.provisioning.engine_model import okta_account
from tests.provisioning.person_machine import Killed
from tests.provisioning.test_engine_convergence import onboard, support_template
from tests.provisioning.test_engine_okta import held, okta_world
from tests.provisioning.test_okta_create_in_groups import okta_api

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dirs(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(okta, "ANSWER_TIMEOUT_S", 0.5)
    return make_directories(
        on_sandbox, f"cg{uuid.uuid4().hex[:8]}", kinds=("okta",), licenses=[], apps=[]
    )


def run_until(job: Job, done) -> Job:
    """Run `job` in this process, as `drive` does, until `done(job)` or it ends."""
    for _ in range(400):
        outcome = run_now(job.pk)
        job.refresh_from_db()
        if job.is_done or done(job):
            return job
        time.sleep(min(outcome.retry_in or 0.05, 0.2))
    raise AssertionError(f"job {job.pk} still {job.status}: {job.waiting_reason}")


def test_a_create_given_up_unanswered_leaves_its_groups_the_portals(dirs):
    """The join's create lands (in Staff and Sales) and its answer is lost, then Okta hangs
    through every retry: the create is given up, the join fails. A move to Support (Staff,
    VPN Users) then links the account and must take Sales away: the portal put it there,
    in the create, as it would have with an add given up unanswered."""
    join = onboard(dirs)
    dirs.behave("okta", lose_answer_next=1)
    join = run_until(join, lambda j: j.steps.filter(action="create_user", attempts=1).exists())
    dirs.behave("okta", timeout_rate=1.0)  # every call hangs past the client's patience

    join = drive(join)
    dirs.behave("okta", timeout_rate=0.0)

    assert join.status == Job.Status.FAILED
    create = join.steps.get(action="create_user")
    assert create.status == Step.Status.FAILED and "Gave up after 8" in create.last_error
    identity = Identity.objects.get(pk=join.identity_id)
    in_okta = okta_account(dirs.okta_state(), identity.username)
    assert sorted(in_okta.groups) == ["Sales", "Staff"]  # the first create landed in them

    move = lifecycle.request_change(
        identity, lifecycle.ChangeRequest([support_template(dirs)]), actor="system"
    )
    move = drive(move)

    assert move.status == Job.Status.SUCCEEDED, move.error
    held = okta_account(dirs.okta_state(), identity.username)
    assert sorted(held.groups) == ["Staff", "VPN Users"]


MANY = [f"Team {n:02}" for n in range(18)]  # with GROUPS' five: 23, past the create's 20


def test_more_than_twenty_groups_everyone_and_an_imported_one_through_a_504_and_a_kill(
    on_sandbox, monkeypatch
):
    """A template of 23 groups, Everyone and an imported group: the create names 20 (never
    Everyone nor the imported one), lands and is answered 504; its retry's worker is killed
    after the call. The join ends Succeeded with the person in the 23 groups and Everyone,
    one account, the imported group left as checklist work, each group add audited."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = okta_world(on_sandbox, extra_groups=MANY)
    dirs.template.groups = [*GROUPS, *MANY, "Everyone", "AD Engineers"]
    dirs.template.apps = []
    dirs.template.save()
    job = onboard(dirs)
    dirs.behave("okta", fail_after_next=1)  # the create lands, its answer is a 504
    job = run_until(job, lambda j: j.steps.filter(action="create_user", attempts=1).exists())
    create = job.steps.get(action="create_user")
    assert len(create.params["group_ids"]) == 20
    real_write = steps_module.write_outcomes

    def killed(*args):
        monkeypatch.setattr(steps_module, "write_outcomes", real_write)
        raise Killed  # the create was sent again and landed (a clash); its outcome is lost

    monkeypatch.setattr(steps_module, "write_outcomes", killed)
    with pytest.raises(Killed):
        run_until(job, lambda j: False)
    lease_runs_out(job)
    job = drive(job)

    assert job.status == Job.Status.SUCCEEDED, job.error
    held = okta_account(dirs.okta_state(), job.identity.username)
    assert (held.present, held.enabled) == (True, True), held.detail
    assert sorted(held.groups) == sorted([*GROUPS, *MANY]), held.detail
    assert "AD Engineers" in str(job.checklist)
    adds = job.steps.filter(action="add_group", status=Step.Status.SUCCEEDED)
    assert sorted(adds.values_list("target_name", flat=True)) == sorted([*GROUPS, *MANY])
    audited = AuditEvent.objects.filter(
        job_id=str(job.pk), action="directory.add_group", result="success"
    )
    assert {e.after["target"] for e in audited} == {*GROUPS, *MANY}
    assert verify_all().ok


def test_a_joiner_whose_template_names_everyone_succeeds_in_it(on_sandbox, monkeypatch):
    """Everyone holds every Okta user, a new one from its create, and Okta refuses a change
    of its members (403): the join sends no add to it, and ends Succeeded, in it."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = okta_world(on_sandbox)
    dirs.template.groups = ["Staff", "Everyone"]
    dirs.template.save()

    job = drive(onboard(dirs))

    assert job.status == Job.Status.SUCCEEDED, job.error
    _, groups, _ = held(dirs, job.identity.username)
    assert groups == {"Staff", "Everyone"}
    assert not job.steps.filter(target_name="Everyone").exists()


def test_a_group_deleted_since_the_plan_and_the_create_answered_504_after_it_landed(dirs):
    """Finance is deleted in Okta after the plan named it in the create: Okta refuses the
    create whole (404), the user is created without the groups, and that create's answer is a
    504. Its retry links the account, the other groups are sent as adds; Finance's add fails
    for a reason the person reading the job can act on. One account, in every group left."""
    dirs.template.groups = ["Staff", "Sales", "Finance"]
    dirs.template.save()
    connector = connector_for(dirs.tenant.connections.get(kind="okta"))
    finance = next(g.id for g in bridge.run(connector.groups()) if g.name == "Finance")
    with okta_api(dirs) as api:  # after the catalogue was read: the plan still names it
        assert api.delete(f"/api/v1/groups/{finance}").status_code == 204
    dirs.behave("okta", fail_after_next=1)  # the create without groups lands, then a 504

    job = drive(onboard(dirs))

    assert job.status == Job.Status.PARTIAL, job.error
    assert dirs.stats("okta")["faults"] == {"failed_after": 1}
    assert job.steps.get(action="create_user").result["linked"]  # its retry found it
    held = okta_account(dirs.okta_state(), job.identity.username)
    assert (held.present, sorted(held.groups)) == (True, ["Sales", "Staff"]), held.detail
    failed = job.steps.get(status=Step.Status.FAILED)
    assert (failed.action, failed.target_name) == ("add_group", "Finance")
    # named as the plan named it, not by Okta's id (strict21)
    assert failed.last_error.startswith("The group Finance is no longer in Okta"), failed.last_error
