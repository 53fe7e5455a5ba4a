"""A worker's PostgreSQL backend terminated (`pg_terminate_backend`: a failover, an admin, an
OOM kill of the backend) inside the transaction that records a batch's outcomes, after the
directory took the calls, and inside the one that ends the job. The run raises (the
database is away: not counted as a fault), its lease runs out, the next run finds what the
directory holds. The person ends as asked, each job Succeeded, each call the directory took
in the audit trail once, the chain whole (convergence check converge16)."""

from __future__ import annotations

import uuid
from collections import Counter

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.engine import serial
from provisioning.engine import steps as steps_module
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import drive, lease_runs_out, run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_convergence import onboard, support_template
from tests.provisioning.test_engine_mid_run import entra_user, okta_user, own_groups

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="pg_terminate_backend is PostgreSQL's"
    ),
]


def terminate_this_backend() -> None:
    """From a second connection, as an admin would: this process's transaction is gone."""
    pid = connection.connection.info.backend_pid
    s = connection.settings_dict
    with psycopg.connect(
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        dbname=s["NAME"],
        autocommit=True,
    ) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


def run_terminated(job: Job, monkeypatch, module, name: str) -> None:
    """One run of `job` whose backend is terminated right after `module.name` has run
    inside its transaction; the run raises as a worker's would, and its connection is
    dropped (the task ends; the next one connects afresh)."""
    real = getattr(module, name)
    fired = []

    def then_terminated(*args, **kwargs):
        result = real(*args, **kwargs)
        if not fired:
            fired.append(name)
            terminate_this_backend()
        return result

    monkeypatch.setattr(module, name, then_terminated)
    with pytest.raises((OperationalError, InterfaceError)):
        for _ in range(20):  # the runs before the transaction it is meant for
            run_now(job.pk)
    monkeypatch.setattr(module, name, real)
    connection.close()
    assert fired


# What an undisturbed join as Sales, then a move to Support, record (Entra and Okta).
JOINED = Counter(
    {
        "identity.onboard": 1,
        "job.plan": 1,
        "directory.create_user": 2,
        "directory.add_group": 4,
        "directory.assign_license": 1,
        "directory.assign_app": 2,
        "job.finish": 1,
    }
)
MOVED = Counter(
    {
        "identity.change": 1,
        "job.plan": 1,
        "directory.update_user": 2,
        "directory.add_group": 2,
        "directory.remove_group": 2,
        "directory.remove_license": 1,
        "directory.unassign_app": 2,
        "job.finish": 1,
    }
)


def actions(job: Job) -> Counter:
    events = AuditEvent.objects.filter(job_id=job.pk, result="success")
    return Counter(events.values_list("action", flat=True))


@pytest.mark.parametrize(
    "where", ["outcomes", "end"], ids=["while recording outcomes", "while ending"]
)
def test_a_backend_terminated_mid_transaction_changes_no_end(on_sandbox, monkeypatch, where):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"pgkill{uuid.uuid4().hex[:6]}", kinds=("entra", "okta"))
    support = support_template(dirs)
    join = onboard(dirs)
    module, name = (steps_module, "_outcomes_written") if where == "outcomes" else (serial, "ended")
    run_terminated(join, monkeypatch, module, name)
    lease_runs_out(join)
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    identity = Identity.objects.get(pk=join.identity_id)
    move = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    run_terminated(move, monkeypatch, module, name)
    lease_runs_out(move)
    assert drive(move).status == Job.Status.SUCCEEDED, move.error

    upn = identity.username
    assert [u["userPrincipalName"] for u in dirs.entra_state()["users"]].count(upn) == 1
    assert own_groups(entra_user(dirs, upn)) == ["Staff", "VPN Users"]
    okta, groups, _ = okta_user(dirs, upn)
    assert okta["status"] == "ACTIVE" and groups == ["Staff", "VPN Users"]
    assert actions(join) == JOINED, actions(join)  # each call the directories took, once
    assert actions(move) == MOVED, actions(move)
    finishes = AuditEvent.objects.filter(action="job.finish", job_id__in=[join.pk, move.pk])
    ended = Counter(finishes.values_list("job_id", flat=True))
    assert ended == {str(join.pk): 1, str(move.pk): 1}, ended
    assert verify_all().ok
