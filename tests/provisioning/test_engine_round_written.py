"""A round's steps and the job's `planned` mark are written together, and only while the
run still holds the job (executor._round_written: one statement on PostgreSQL)."""

from __future__ import annotations

import pytest

from provisioning.engine import executor
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
def test_a_round_is_written_with_its_ids_only_while_the_run_holds_the_job(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "rounds", groups=["Staff", "Sales", "Finance"])
    job = onboard(dirs, "Ada", "Round")
    connection_id = dirs.tenant.connections.get(kind="entra").pk
    Job.objects.filter(pk=job.pk).update(runs=2)  # another run claimed it since

    job.runs = 1
    stale = round_of(job, connection_id)
    assert not executor._round_written(job, stale, planned=True, steps_total=3)
    assert not Step.objects.filter(job=job).exists()
    assert not Job.objects.get(pk=job.pk).planned

    job.runs = 2
    rows = round_of(job, connection_id)
    assert executor._round_written(job, rows, planned=True, steps_total=3)
    stored = Job.objects.get(pk=job.pk)
    assert (stored.planned, stored.steps_total) == (True, 3)
    by_id = {s.pk: (s.order, s.target_name) for s in Step.objects.filter(job=job)}
    assert by_id == {row.pk: (row.order, row.target_name) for row in rows}
