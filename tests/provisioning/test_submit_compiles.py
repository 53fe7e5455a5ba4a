"""The submit of a joiner (`services.request_onboarding`) on PostgreSQL: the reads that ride in
its one INSERT statement (the tenant's registered rows, the audit chain's head) have the same
text for every joiner, so a warm submit compiles none of them again. docs/benchmarks.md,
`cpu16`."""

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from provisioning.engine.tasks import run_job
from provisioning.models import Identity
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard, statements

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="one statement on PostgreSQL only"
)


def selects_compiled(monkeypatch) -> list:
    compiled = []
    as_sql = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(self.query.model)
        return as_sql(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)  # SELECTs (the others override it)
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
    compiled = selects_compiled(monkeypatch)
    with CaptureQueriesContext(connection) as sent:
        joins = [onboard(dirs, "Ada", "Lovelace"), onboard(other, "Alan", "Turing")]
    assert compiled == []
    assert len(statements(sent)) == 6  # 3 each, as before
    # Each joiner's own tenant's rows and chain, read with its own values.
    assert [j.identity.tenant_id for j in joins] == [dirs.tenant.pk, other.tenant.pk]
    for join, tenant in zip(joins, (dirs.tenant, other.tenant), strict=True):
        assert Identity.objects.get(pk=join.identity_id).tenant_id == tenant.pk
