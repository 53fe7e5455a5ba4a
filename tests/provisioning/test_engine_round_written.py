"""A round's steps, the job's `planned` mark and the plan's audit events are written together,
and only while the run still holds the job (executor._write_round: one statement on
PostgreSQL, the writes riding in the append's)."""

from __future__ import annotations

import pytest

from portal.audit.events import forget_known_heads
from portal.audit.models import AuditEvent
from provisioning.engine import executor
from provisioning.engine.parking import LeaseLost
from provisioning.engine.tasks import run_job
from provisioning.models import Job, Step
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard


def round_of(job: Job, connection_id: int) -> list[Step]:
    return [
        Step(job=job, connection_id=connection_id, order=n, action="add_group", target_name=name)
        for n, name in [(1, "Staff"), (2, "Sales"), (3, "Finance")]
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("head_known", [True, False], ids=["head known", "head not known"])
def test_a_round_is_written_with_its_ids_only_while_the_run_holds_the_job(
    on_sandbox, monkeypatch, head_known
):
    """Where this process knows the chain's head the writes ride in the append's statement;
    where not, they go on their own before the locked append: the same either way."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    name = "rounds" if head_known else "roundsalone"
    dirs = make_directories(on_sandbox, name, groups=["Staff", "Sales", "Finance"])
    job = onboard(dirs, "Ada", "Round")
    connection_id = dirs.tenant.connections.get(kind="entra").pk
    Job.objects.filter(pk=job.pk).update(runs=2)  # another run claimed it since

    if not head_known:
        forget_known_heads()
    job.runs = 1
    stale = round_of(job, connection_id)
    with pytest.raises(LeaseLost):
        executor._write_round(job, stale, plan(job, stale), planned=True, steps_total=3)
    assert not Step.objects.filter(job=job).exists()
    assert not Job.objects.get(pk=job.pk).planned
    assert not AuditEvent.objects.filter(action="job.plan", job_id=str(job.pk)).exists()

    if not head_known:
        forget_known_heads()
    job.runs = 2
    rows = round_of(job, connection_id)
    executor._write_round(job, rows, plan(job, rows), planned=True, steps_total=3)
    stored = Job.objects.get(pk=job.pk)
    assert (stored.planned, stored.steps_total) == (True, 3)
    by_id = {s.pk: (s.order, s.target_name) for s in Step.objects.filter(job=job)}
    assert by_id == {row.pk: (row.order, row.target_name) for row in rows}
    (event,) = AuditEvent.objects.filter(action="job.plan", job_id=str(job.pk))
    assert event.after["steps"] == [f"Add to group {n}" for n in ("Staff", "Sales", "Finance")]


def plan(job: Job, rows: list[Step]) -> list[AuditEvent]:
    return executor.plan_events(job, rows, rounds=1, version=job.desired_version)
