"""The indexes that every onboarding writes: each row a worker inserts, and each update that
cannot be HOT, writes every index of its table. An index whose columns begin another index
of the same table serves no query the longer one does not, so none is kept; every foreign
key still leads an index, so that the deletes that check it (PostgreSQL's key checks,
Django's cascades) find its rows without a scan (docs/benchmarks.md, pg19)."""

import pytest
from django.apps import apps
from django.db import connection

from provisioning.engine.tasks import run_job
from provisioning.models import Job, Step
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard

WRITTEN = [
    ("provisioning", "Identity"),
    ("provisioning", "DirectoryAccount"),
    ("provisioning", "Job"),
    ("provisioning", "Step"),
    ("inventory", "Account"),
    ("inventory", "Person"),
    ("events", "Event"),
]


def indexes(model):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {
        name: (tuple(c["columns"]), bool(c["unique"]))
        for name, c in found.items()
        if (c["index"] or c["unique"]) and c["columns"] and all(c["columns"])
    }


def partial(model) -> set[str]:
    return {
        index.name
        for index in [*model._meta.indexes, *model._meta.constraints]
        if getattr(index, "condition", None) is not None
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("app", "name"), WRITTEN)
def test_no_index_is_the_beginning_of_another(app, name):
    model = apps.get_model(app, name)
    found = indexes(model)
    whole = {n: cols for n, (cols, _) in found.items() if n not in partial(model)}
    redundant = sorted(
        (n, cols, longer)
        for n, (cols, unique) in found.items()
        if not unique and n not in partial(model)
        for longer, other in whole.items()
        if longer != n and len(other) > len(cols) and other[: len(cols)] == cols
    )
    assert redundant == []


@pytest.mark.django_db
@pytest.mark.parametrize(("app", "name"), WRITTEN)
def test_every_foreign_key_leads_an_index(app, name):
    model = apps.get_model(app, name)
    leading = {cols[0] for n, (cols, _) in indexes(model).items() if n not in partial(model)}
    keys = [f.column for f in model._meta.concrete_fields if f.is_relation]
    assert [key for key in keys if key not in leading] == []


@pytest.mark.django_db
def test_a_job_status_is_written_to_one_index():
    """Changed twice a run (claimed, ended): on PostgreSQL `db_index` made it two, the second
    a varchar_pattern_ops copy for LIKE, which no query asks of a status."""
    on_status = [n for n, (cols, _) in indexes(Job).items() if cols == ("status",)]
    assert on_status == ["job_status_idx"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")
@pytest.mark.django_db(transaction=True)
def test_the_steps_of_a_job_are_read_through_an_index(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "idx", groups=["Staff"])
    for i in range(3):
        assert drive(onboard(dirs, f"I{i}", "Dx")).status == Job.Status.SUCCEEDED
    job = Job.objects.latest("pk")
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # the tables are small: ask what could serve
        try:
            plan = Step.objects.filter(job=job).explain()
        finally:
            cursor.execute("SET enable_seqscan = on")
    assert "unique_step_order" in plan
