"""Writes the directories carry out and then answer 504 (the sandbox's `fail_after_next`: a
gateway that stopped waiting for the service behind it), in Entra, Okta and a SCIM app at
once, through a join, a move, a leave and a restore; and a join whose create was answered
so, left and hard-deleted before its retry. A 5xx does not say the write did not happen: the
engine must find by reading what landed, never make a second account, and end each
directory as last asked, every job Succeeded, the audit chain whole (convergence check
converge16). Driven in this process; the waits are stood in for (`run_now`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import drive, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import okta_account
from tests.provisioning.test_engine_convergence import entra_access, onboard
from tests.provisioning.test_engine_lost_answers import through_every_directory

pytestmark = pytest.mark.django_db(transaction=True)

SALES, SUPPORT = ["Sales", "Staff"], ["Staff", "VPN Users"]


def test_writes_answered_5xx_that_landed_end_every_directory_as_last_asked(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    through_every_directory(on_sandbox, "after", fault="fail_after_next", counted_as="failed_after")


def test_a_create_answered_5xx_then_left_and_hard_deleted_leaves_no_account(
    on_sandbox, monkeypatch
):
    """The join's creates land and are answered 504, and its run parks to try again. Before
    it does, the person leaves with deletion at once and the hard delete falls due. Whatever
    order the three jobs run in, the accounts the 504s hid must be gone from both
    directories: never an enabled account left behind under Succeeded jobs."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox, f"gone{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"), licenses=[], apps=[]
    )
    for kind in ("entra", "okta"):
        dirs.behave(kind, fail_after_next=1)
    join = onboard(dirs)
    run_now(join.pk)
    join.refresh_from_db()
    assert not join.is_done, join.status
    upn = join.identity.username
    assert [u["userPrincipalName"] for u in dirs.entra_state()["users"]].count(upn) == 1
    identity = Identity.objects.get(pk=join.identity_id)
    options = lifecycle.OffboardingOptions(delete_after_days=0)
    leave = lifecycle.request_offboarding(identity, options, actor="system")
    for job in (join, leave):
        assert drive(job).status == Job.Status.SUCCEEDED, (job.kind, job.error)
    lifecycle.start_due_jobs(now=timezone.now() + timedelta(seconds=1))
    delete = Job.objects.get(identity_id=identity.pk, kind=Job.Kind.DELETE)
    assert drive(delete).status == Job.Status.SUCCEEDED, delete.error
    live = [
        u
        for u in dirs.entra_state()["users"]
        if u["userPrincipalName"] == upn and not u.get("deleted")
    ]
    assert live == []
    assert not okta_account(dirs.okta_state(), upn).enabled
    assert verify_all().ok


def test_a_batch_answered_429_5xx_504_after_landing_and_200_at_once_ends_joined(
    on_sandbox, monkeypatch
):
    """The join's Entra create goes through; its next `$batch` (groups, licence, app) is
    answered with one sub-request throttled, one failed (500/503), one carried out and
    answered 504, the rest 200, in an order drawn from the body. The join ends with the
    account as asked, each add in the audit trail once."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"mixed{uuid.uuid4().hex[:6]}")
    real = executor.apply_batch

    def then_mixed(job, batch, account):
        outcome = real(job, batch, account)
        if batch[0].action == "create_user":
            dirs.behave("entra", throttle_next=1, error_next=1, fail_after_next=1)
        return outcome

    monkeypatch.setattr(executor, "apply_batch", then_mixed)
    join = drive(onboard(dirs))
    assert join.status == Job.Status.SUCCEEDED, join.error
    faults = dirs.stats("entra")["faults"]
    assert faults.get("failed_after") == 1 and faults.get("error") == 1, faults
    upn = join.identity.username
    assert entra_access(dirs, upn) == (SALES, ["SPE_E3"], ["Salesforce"])
    adds = AuditEvent.objects.filter(job_id=join.pk, action="directory.add_group", result="success")
    assert adds.count() == 2
    assert verify_all().ok
