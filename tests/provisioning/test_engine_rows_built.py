"""The rows a warm onboarding's worker run writes (its audit events, the round's steps, the
audit chain's head it appends after) are built by position (`bulk_rows.new_row`), not by
Django's keyword path, which pops every field from the keywords and asks each one not given
for its default: about 200 `get_default` calls and 0.2 ms of a run's CPU.
docs/benchmarks.md, `cpu21`."""

from collections import Counter

import pytest
from django.db import models

from portal.audit.events import forget_known_heads
from portal.audit.models import AuditChainHead, AuditEvent
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job, Step
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard

WRITTEN = (AuditEvent, Step, AuditChainHead)


def built_by_keywords(monkeypatch) -> Counter:
    """The models built by keywords from now on, counted."""
    counted: Counter = Counter()
    init = models.Model.__init__

    def counting(self, *args, **kwargs):
        if kwargs:
            counted[type(self)] += 1
        init(self, *args, **kwargs)

    monkeypatch.setattr(models.Model, "__init__", counting)
    return counted


@pytest.mark.django_db(transaction=True)
def test_a_warm_run_builds_the_rows_it_writes_by_position(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "rbuilt", groups=["Staff", "Sales"], apps=["Salesforce"])
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
    job = onboard(dirs, "Ada", "Lovelace")
    forget_known_heads()  # a run's first append reads the head; its later ones chain on
    counted = built_by_keywords(monkeypatch)
    executor.execute(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # before cpu21 (SQLite): 7 events, 5 steps and 3 heads built by keywords
    assert {model: counted[model] for model in WRITTEN} == dict.fromkeys(WRITTEN, 0), counted
    # What they were built with reached the database: the steps with their job, the events
    # chained and sealed.
    assert job.steps.count() == 5
    events = AuditEvent.objects.filter(job_id=str(job.pk))
    assert events.count() >= 5 and all(e.hash and e.prev_hash for e in events)
