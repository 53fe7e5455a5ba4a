"""An approved request revoked while its grant's job is on its way (convergence check
converge20): queued, part-way through its round, after its adds, at its verifying read, or
with its worker killed mid-round. Whatever the order of the grant's end and the revoke, the
end state is the one asked last: the request revoked, the group not held in the directory
(the sandbox, read over HTTP), both jobs succeeded, one `access.end` in the trail. The grant's
end never makes a revoked request granted again."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.db import connection

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from portal.models import Role
from provisioning.access import services as ar
from provisioning.engine import executor
from provisioning.engine import steps as steps_module
from provisioning.engine.tasks import run_job
from provisioning.models import AccessRequest, Job
from tests.factories import make_person
from tests.provisioning.conftest import drive, lease_runs_out
from tests.provisioning.directories import make_directories
from tests.provisioning.test_access_e2e import requestable
from tests.provisioning.test_engine_convergence import entra_access, onboard

pytestmark = pytest.mark.django_db(transaction=True)

Status = AccessRequest.Status
# When the revoke comes, in the grant job's life: its order against the grant's start and end.
MOMENTS = ("queued", "in_its_round", "after_its_adds", "at_its_verifying_read", "killed")


class Killed(BaseException):
    """What a SIGKILL leaves of a run: nothing after this point happens."""


@pytest.fixture
def world(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)  # jobs run when driven here
    dirs = make_directories(on_sandbox, f"rva{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    dirs.tech = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.approver = make_person(f"ca-{dirs.tenant.slug}", Role.CLIENT_ADMIN, [dirs.tenant])
    join = onboard(dirs)
    assert drive(join).status == Job.Status.SUCCEEDED
    dirs.identity = join.identity
    return dirs


def approved(world) -> AccessRequest:
    vpn = requestable(world, "VPN Users")
    filed = ar.file_request(world.identity, vpn, reason="On call", ends_at=None, actor=world.tech)
    ar.approve(filed, actor=world.approver, reason="Agreed")
    filed.refresh_from_db()
    assert filed.status == Status.APPROVED and filed.grant_job.status == Job.Status.QUEUED
    return filed


def revoke(world, filed: AccessRequest) -> None:
    """The client admin who approved it takes it back (approved by mistake)."""
    ar.revoke(AccessRequest.objects.get(pk=filed.pk), actor=world.approver, reason="By mistake")


def revoke_once_at(world, filed, monkeypatch, moment: str) -> None:
    """Arrange for the revoke at `moment` of the grant job's run (or now, if queued)."""
    if moment == "queued":
        revoke(world, filed)
        return
    done = []

    def once() -> bool:
        if done:
            return False
        done.append(True)
        revoke(world, filed)
        return True

    if moment == "in_its_round":  # the round's adds written, not yet sent
        real_apply = executor.apply_batch

        def apply_batch(job, batch, account):
            once()
            return real_apply(job, batch, account)

        monkeypatch.setattr(executor, "apply_batch", apply_batch)
    elif moment == "after_its_adds":  # the adds sent and recorded, the read-back to come
        real_write = steps_module.write_outcomes

        def write_outcomes(*args, **kwargs):
            written = real_write(*args, **kwargs)
            once()
            return written

        monkeypatch.setattr(steps_module, "write_outcomes", write_outcomes)
    elif moment == "at_its_verifying_read":  # the read found it done; the job not yet ended
        real_succeed = executor.succeed_verified

        def succeed_verified(job, plans, version):
            once()
            return real_succeed(job, plans, version)

        monkeypatch.setattr(executor, "succeed_verified", succeed_verified)


def run_the_grant(world, filed, monkeypatch, moment: str) -> None:
    grant = filed.grant_job
    if moment != "killed":
        assert drive(grant).status == Job.Status.SUCCEEDED, grant.error
        return
    real_write = steps_module.write_outcomes

    def killed_after_its_adds_were_sent(*args, **kwargs):
        raise Killed  # the group add reached the directory; its outcome was never written

    monkeypatch.setattr(steps_module, "write_outcomes", killed_after_its_adds_were_sent)
    with pytest.raises(Killed):
        executor.execute(grant.pk)
    monkeypatch.setattr(steps_module, "write_outcomes", real_write)
    assert "VPN Users" in entra_access(world, world.identity.username)[0]
    revoke(world, filed)
    lease_runs_out(grant)
    assert drive(Job.objects.get(pk=grant.pk)).status == Job.Status.SUCCEEDED


@pytest.mark.parametrize("moment", MOMENTS)
def test_an_approved_request_revoked_while_its_grant_runs_ends_revoked(world, monkeypatch, moment):
    filed = approved(world)
    revoke_once_at(world, filed, monkeypatch, moment)
    run_the_grant(world, filed, monkeypatch, moment)
    ends_revoked(world, filed, was=Status.APPROVED)
    assert verify_all().ok


def ends_revoked(world, filed: AccessRequest, was: str) -> None:
    """The removal's job done: revoked, the group not held, one `access.end` (from `was`)."""
    filed.refresh_from_db()
    assert filed.end_job is not None, "the revoke never happened"
    assert drive(filed.end_job).status == Job.Status.SUCCEEDED
    filed.refresh_from_db()
    assert filed.status == Status.REVOKED
    assert entra_access(world, world.identity.username)[0] == ["Sales", "Staff"]
    ends = AuditEvent.objects.filter(action="access.end", after__request=filed.pk)
    assert [e.before["status"] for e in ends] == [was]


def test_a_grant_job_ending_after_the_revoke_leaves_it_revoked(world, monkeypatch):
    """The removal's job is verified first (settled by the grant job's own read-back, which
    read the revoke): the grant job's end, in the same transaction after it, must not make
    the request granted again, nor tell anyone it was granted."""
    filed = approved(world)
    revoke(world, filed)
    filed.refresh_from_db()
    assert filed.status == Status.ENDING
    assert drive(filed.grant_job).status == Job.Status.SUCCEEDED
    filed.refresh_from_db()
    assert filed.end_job.status == Job.Status.SUCCEEDED  # settled by the grant job's read
    assert filed.end_job.verification.get("by_job") == filed.grant_job_id
    assert filed.status == Status.REVOKED
    granted = AuditEvent.objects.filter(action="access.job_outcome", after__request=filed.pk)
    assert Status.GRANTED not in [e.after["status"] for e in granted]


def test_a_granted_request_revoked_still_ends_revoked(world):
    """The order the page offered before: granted, then revoked."""
    filed = approved(world)
    assert drive(filed.grant_job).status == Job.Status.SUCCEEDED
    filed.refresh_from_db()
    assert filed.status == Status.GRANTED
    assert "VPN Users" in entra_access(world, world.identity.username)[0]
    revoke(world, filed)
    ends_revoked(world, filed, was=Status.GRANTED)


def test_a_revoke_while_the_grant_job_ends_waits_for_it_and_ends_revoked(world, monkeypatch):
    """The revoke is clicked while the grant job's end holds the person (its transaction,
    about to make the request granted). The revoke waits for that end and then ends the
    grant; it locked the request before the person, and on PostgreSQL the two deadlocked
    (one of them rolled back: the click an error page, or the job's end undone)."""
    filed = approved(world)
    real = ar.grant_finished
    outcome: list = []

    def revoke_in_another_session() -> None:
        try:
            revoke(world, filed)
            outcome.append("revoked")
        except Exception as exc:  # what the person clicking would see
            outcome.append(repr(exc))
        finally:
            connection.close()

    def ending_while_a_revoke_comes(job, status):
        if job.kind == Job.Kind.GRANT and not outcome:
            clicking = threading.Thread(target=revoke_in_another_session)
            clicking.start()
            clicking.join(timeout=1.0)  # it waits for the person this end holds
        return real(job, status)

    monkeypatch.setattr(ar, "grant_finished", ending_while_a_revoke_comes)
    assert drive(filed.grant_job).status == Job.Status.SUCCEEDED
    monkeypatch.setattr(ar, "grant_finished", real)
    for _ in range(100):
        if outcome:
            break
        time.sleep(0.1)
    assert outcome == ["revoked"]
    ends_revoked(world, filed, was=Status.GRANTED)  # it waited for the grant's end
