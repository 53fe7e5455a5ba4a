"""The teardown of transactional tests (tests/settle.py): what it cancels, what it waits for,
when it stops the workers, and that a leaked audit event is named and cleared."""

import pytest

from portal.audit.events import record
from portal.audit.models import AuditChainHead
from provisioning.models import Job
from tests import settle

pytestmark = pytest.mark.django_db

UNFINISHED = [s for s in Job.Status.values if s not in Job.DONE]


class StandInWorker:
    """What settle_jobs asks of a worker process: is it alive, and to be killed."""

    def __init__(self) -> None:
        self.killed = False

    def alive(self) -> bool:
        return not self.killed

    def kill(self) -> None:
        self.killed = True


def job_in(world, status: str) -> Job:
    return Job.objects.create(
        tenant=world.tenant, identity=world.identity, kind=Job.Kind.JOIN, status=status
    )


def statuses(jobs: list[Job]) -> list[str]:
    return [Job.objects.get(pk=job.pk).status for job in jobs]


def test_every_job_no_worker_runs_is_cancelled_and_finished_ones_are_kept(alpha):
    idle = [job_in(alpha, s) for s in UNFINISHED if s != Job.Status.RUNNING]
    done = [job_in(alpha, s) for s in Job.DONE]
    worker = StandInWorker()
    assert settle.settle_jobs([worker]) == settle.Settled([], [])
    assert statuses(idle) == [Job.Status.CANCELLED] * len(idle)
    assert statuses(done) == list(Job.DONE) and not worker.killed


def test_a_job_running_at_the_deadline_is_named_and_its_workers_are_killed(alpha):
    running = job_in(alpha, Job.Status.RUNNING)
    worker, dead = StandInWorker(), StandInWorker()
    dead.kill()
    settled = settle.settle_jobs([worker, dead], timeout=0.3)
    assert settled.killed == [worker] and worker.killed
    assert settled.stuck == [f"job {running.pk} (join, running, tenant {alpha.tenant.pk})"]
    assert statuses([running]) == [Job.Status.CANCELLED]  # nobody can run it any more


def test_a_running_job_without_a_live_worker_is_cancelled_at_once(alpha):
    running = job_in(alpha, Job.Status.RUNNING)
    dead = StandInWorker()
    dead.kill()
    assert settle.settle_jobs([dead], timeout=60) == settle.Settled([], [])
    assert statuses([running]) == [Job.Status.CANCELLED]


def test_a_leaked_event_is_named_and_the_trail_forgotten(alpha):
    event = record("job.plan", actor="system", tenant=alpha.tenant, job_id=alpha.job.pk)
    [leaked] = settle.leaked_events()
    assert leaked.startswith(f"event {event.pk} job.plan by system (tenant {alpha.tenant.pk}")
    assert f"job {alpha.job.pk}," in leaked
    settle.forget_audit_trail()  # through the append-only trigger: TRUNCATE, not DELETE
    assert settle.leaked_events() == [] and not AuditChainHead.objects.exists()
    assert f"event {event.pk} job.plan" in settle.describe_leak([leaked], "here")
