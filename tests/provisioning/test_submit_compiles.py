"""The submit of a joiner (`services.request_onboarding`) on PostgreSQL: the reads that ride in
its one INSERT statement (the tenant's registered rows, the audit chain's head) have the same
text for every joiner, so a warm submit compiles none of them again. docs/benchmarks.md,
`cpu16`."""

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler
from django.test.utils import CaptureQueriesContext

from provisioning.engine.tasks import run_job
from provisioning.models import Identity
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard, statements

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one statement on PostgreSQL only"
)


def compiled_by(monkeypatch, *compilers) -> list:
    compiled = []
    for kind in compilers:

        def counting(self, *args, as_sql=kind.as_sql, **kwargs):
            compiled.append((type(self).__name__, self.query.model.__name__))
            return as_sql(self, *args, **kwargs)

        monkeypatch.setattr(kind, "as_sql", counting)
    return compiled


@pytest.mark.django_db(transaction=True)
def test_a_warm_submit_compiles_none_of_the_reads_riding_in_its_insert(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(run_job, "apply_async", lambda *a, **k: None)
    dirs = make_directories(on_sandbox, "subc", groups=["Staff"], apps=[])
    other = make_directories(on_sandbox, "subd", groups=["Staff"], apps=[])
    # Each chain has its head, the append's shapes are kept.
    for n, warm in enumerate((dirs, other, dirs)):
        onboard(warm, "Warm", f"Up{n}")
    compiled = compiled_by(monkeypatch, SQLCompiler, SQLInsertCompiler)
    with CaptureQueriesContext(connection) as sent:
        joins = [onboard(dirs, "Ada", "Lovelace"), onboard(other, "Alan", "Turing")]
    assert compiled == []
    assert len(statements(sent)) == 4  # 2 each: the inventory's person rides in the INSERT
    # Each joiner's own tenant's rows and chain, read with its own values.
    assert [j.identity.tenant_id for j in joins] == [dirs.tenant.pk, other.tenant.pk]
    # Each row's own values, its times made by its own insert (`pre_save`).
    first, second = (Identity.objects.get(pk=j.identity_id) for j in joins)
    assert (first.username, second.username) == (
        "ada.lovelace@subc.example",
        "alan.turing@subd.example",
    )
    assert first.created_at < second.created_at and first.updated_at < second.updated_at
    for join, tenant in zip(joins, (dirs.tenant, other.tenant), strict=True):
        assert Identity.objects.get(pk=join.identity_id).tenant_id == tenant.pk
