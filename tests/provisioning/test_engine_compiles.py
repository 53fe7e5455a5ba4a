"""A warm onboarding's worker run on PostgreSQL compiles no statement: the questions that
ride in its outcomes' statement (whether the inventory holds rows a guard judges the new
account by, whose person holds its new id) and the first steps' intent that inserts the
new account's row have the same text for every account, kept per shape (kept_sql).
docs/benchmarks.md, `cpu17`."""

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler, SQLUpdateCompiler

from portal.audit.events import forget_known_heads
from provisioning import throttle
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.inventory.models import Account
from provisioning.models import DirectoryAccount, Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard
from tests.provisioning.test_submit_compiles import compiled_by

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the questions ride in one statement on PostgreSQL"
)


@pytest.mark.django_db(transaction=True)
def test_a_warm_run_compiles_no_statement_about_its_new_accounts(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "rcmp", groups=["Staff"], apps=[])
    for n in range(2):
        assert drive(onboard(dirs, "Warm", f"Up{n}")).status == Job.Status.SUCCEEDED
    jobs = [onboard(dirs, "Ada", "Lovelace"), onboard(dirs, "Alan", "Turing")]
    # The measured runs start on a full bucket (50 tokens, 50 a second): a connection that is
    # not short. Each onboarding spends 6 to 8 tokens more than the bucket refills while it
    # runs, so the bucket held less the faster this process ran the warm-ups (warmed by an
    # earlier test file: no slow first run to refill it); below half, the second measured
    # job's first read was refused the surplus (admission._reserve_as_newcomer), was admitted
    # as at a connection short of tokens and looked for the next in line at its end (a Job
    # query compiled), 2 runs in 3 after test_engine_statements.py.
    throttle.reset(dirs.tenant.connections.get())
    compiled = compiled_by(monkeypatch, SQLCompiler, SQLUpdateCompiler, SQLInsertCompiler)
    for job in jobs:
        forget_known_heads()
        executor.execute(job.pk)
    assert compiled == []  # before cpu17: 3 Account SELECTs and 1 Step UPDATE a run
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED
    # Each account's own id written, and the inventory told of each (its verifying read).
    ids = [DirectoryAccount.objects.get(identity_id=j.identity_id).remote_id for j in jobs]
    assert len(set(ids)) == 2 and all(ids)
    held = Account.objects.filter(remote_id__in=ids)
    assert sorted(held.values_list("remote_id", flat=True)) == sorted(ids)
