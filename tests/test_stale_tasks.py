"""A Celery task can outlive the test that sent it: a session worker busy with other files'
work takes it late, while a later test runs. It must then find nothing of that later test's
under the ids it carries. On SQLite a rolled-back test rolled `sqlite_sequence` back with
its rows, so the next test's rows took the same ids and the late `run_job` claimed the next
test's job (session 29: test_first_sign_in's lease test, "run 1 ended early"). The suite
keeps every id counting across tests (tests/sqlite_ids.py, wired in tests/conftest.py), as
PostgreSQL's sequences do.

The two tests are a pair, run in this order: the first sends the task and rolls back, the
second delivers that task as the worker would take it, late, and looks at its own job."""

from __future__ import annotations

import pytest

from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tenants.models import Tenant
from tests.factories import make_identity

SENT_LATE: list[int] = []  # the job ids of the tasks the first test sent
SENDERS_ROWS: dict[str, int] = {}  # the first test's rows, by what they are


def queued_join(slug: str) -> Job:
    tenant = Tenant.objects.create(name=slug.title(), slug=slug, primary_domain=f"{slug}.test")
    person = make_identity(tenant, "Ada", "Lovelace")
    return Job.objects.create(tenant=tenant, identity=person, kind=Job.Kind.JOIN)


@pytest.mark.django_db
def test_a_rolled_back_test_sends_its_job_a_task(monkeypatch):
    monkeypatch.setattr(run_job, "delay", SENT_LATE.append)  # on its way to a busy worker
    job = queued_join("sender")
    run_job.delay(job.pk)
    SENDERS_ROWS.update(job=job.pk, person=job.identity_id, tenant=job.tenant_id)
    assert [job.pk] == SENT_LATE


@pytest.mark.django_db(transaction=True)
def test_the_late_task_leaves_the_next_tests_job_alone():
    assert SENT_LATE, "run with the test before it, which sends the task taken late here"
    job = queued_join("receiver")
    for job_id in SENT_LATE:
        run_job.apply(args=(job_id,))  # the worker takes the earlier test's task only now
    job.refresh_from_db()
    assert (job.status, job.started_at) == (Job.Status.QUEUED, None), (
        f"the earlier test's task for its job {SENT_LATE} ran this test's job {job.pk}"
    )
    mine = {"job": job.pk, "person": job.identity_id, "tenant": job.tenant_id}
    assert not [what for what, pk in mine.items() if SENDERS_ROWS[what] == pk]
