"""A drift item accepted while the person's drift is converged (a technician's "Converge
all", or the inventory cycle's auto-converge), in real concurrent transactions (PostgreSQL;
convergence check converge24).

`accept` locked the item, then its person; `converge_person` locks the person, then their
open items: PostgreSQL aborted one of them. The item that was accepted first must stay
accepted and out of the reconciliation, or be converged with the person's others and no
longer acceptable: never a deadlock's 500."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from portal.audit.verify import verify_all
from provisioning.engine.tasks import run_job
from provisioning.inventory import drift_actions
from provisioning.inventory.models import Drift, Person
from provisioning.models import Identity, Job
from tests.factories import make_identity, make_tenant_world
from tests.provisioning.crossing import FIRST, WAIT_S, released_once_waiting

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]


@pytest.fixture(autouse=True)
def no_worker_runs_the_jobs(monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)


def test_an_item_accepted_as_its_person_is_converged_both_go_through(monkeypatch, db):
    world = make_tenant_world("driftx", "Drift Crossing Ltd")
    tenant, tech = world.tenant, world.technician
    person = make_identity(tenant, "Dot", "Drifted", status=Identity.Status.ACTIVE)
    row = Person.objects.get(identity=person)
    accepted, other = (
        Drift.objects.create(
            tenant=tenant,
            person=row,
            identity=person,
            connection=world.connection,
            kind=Drift.Kind.STATE,
            detail=f"Department differs ({n})",
        )
        for n in (1, 2)
    )
    accepting, converge_waits = threading.Event(), threading.Event()
    why_not = drift_actions.why_not_acceptable

    def pausing_with_the_item(drift):
        if threading.current_thread().name == FIRST and not accepting.is_set():
            accepting.set()
            assert converge_waits.wait(WAIT_S), "the converge never waited for a lock"
        return why_not(drift)

    monkeypatch.setattr(drift_actions, "why_not_acceptable", pausing_with_the_item)

    def accept():
        drift_actions.accept(accepted, "Known: HR is behind", tech)

    def converge():
        assert accepting.wait(WAIT_S)
        drift_actions.converge_person(row, tech)

    released_once_waiting(accept, converge, converge_waits)

    accepted.refresh_from_db()
    other.refresh_from_db()
    job = Job.objects.get(identity=person, kind=Job.Kind.RECONCILE)
    assert accepted.status == Drift.Status.ACCEPTED
    assert (other.status, other.job_id) == (Drift.Status.CONVERGING, job.pk)
    assert job.options["drift"] == [other.pk]
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks
