"""A run that raises what no rule of the engine expects (a fault of ours or of a library, not
of the directory) must not hold the person for ever: the job comes back a few times, then
fails with the error, and the person's next job (an offboarding) runs."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.engine import crashes, executor
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_that_crashes_every_run_fails_and_the_leave_behind_it_runs(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"crash{uuid.uuid4().hex[:6]}", kinds=("entra",))
    join = drive(onboard(dirs))
    assert join.status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)
    real_plan = executor.plan_job

    def plan_or_crash(job, **kwargs):
        if job.kind == Job.Kind.CHANGE:
            raise KeyError("jobTitle")  # say, a directory's answer no rule foresaw
        return real_plan(job, **kwargs)

    monkeypatch.setattr(executor, "plan_job", plan_or_crash)
    change = lifecycle.ChangeRequest([dirs.template], attributes={"office": "Leeds"})
    move = lifecycle.request_change(identity, change, actor="system")
    leave = lifecycle.request_offboarding(
        identity, lifecycle.OffboardingOptions(delete_after_days=None), actor="system"
    )

    run_now(move.pk)
    move.refresh_from_db()
    assert move.status == Job.Status.WAITING  # comes back: the fault may pass
    assert "KeyError" in move.waiting_reason
    assert drive(move).status == Job.Status.FAILED
    assert f"{crashes.MAX_CRASHES} times (KeyError: 'jobTitle')" in move.error
    assert drive(leave).status == Job.Status.SUCCEEDED, leave.error
    services.retry_failed_steps(move, actor="system")  # once the fault is mended: 3 more
    move.refresh_from_db()
    assert move.status == Job.Status.QUEUED and crashes.CRASHES not in move.options
    [entra] = [
        u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == identity.username
    ]
    assert entra["accountEnabled"] is False
