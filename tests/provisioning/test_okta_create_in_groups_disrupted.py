"""Okta joiners created already in their groups (`groupIds`, engine/create_groups.py) under
the convergence check's faults: answers lost after the create landed, a worker killed
between the create's send and its outcome, a group deleted or the role changed meanwhile.
The end state is the one asked last: the Okta account holds the groups asked and no group
the portal put it in that is no longer wanted."""

from __future__ import annotations

import time
import uuid

import pytest

from provisioning.connectors import okta
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import okta_account
from tests.provisioning.test_engine_convergence import onboard, support_template

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
