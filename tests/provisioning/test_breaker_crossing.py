"""Two paths of leavers asked at once in real concurrent transactions (PostgreSQL;
breaker23): the circuit breaker's one count of the tenant's hour holds, and neither ask
fails.

An offboarding file and a person page's leave (or an adopt-and-offboard from the inventory)
each take the breaker's tenant lock (`lifecycle.lock_leaves_of`) before they count and before
they record anything: the second waits for the first to commit, then counts its leave. Two
people asked at once past a limit of one: one goes ahead, the other is held. The adoption
records its event (the tenant's audit head) only once it holds the lock, so a leave holding
the lock and waiting for the head does not deadlock with it (converge18)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from portal.audit.verify import verify_all
from provisioning.bulk import columns, service
from provisioning.engine.tasks import run_job
from provisioning.inventory import adoption
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job
from tests.factories import make_identity, make_tenant_world
from tests.provisioning.bulk_support import csv_text
from tests.provisioning.crossing import FIRST, WAIT_S, released_once_waiting
from tests.test_isolation_crawl import unmanaged_person_of

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]

OPTIONS = lifecycle.OffboardingOptions(delete_after_days=None)


@pytest.fixture(autouse=True)
def no_worker_runs_the_jobs(monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)


@pytest.fixture
def world(db):
    """A tenant whose limit is one leaver within the hour, with three active people."""
    world = make_tenant_world("breakerx", "Breaker Crossing Ltd")
    world.tenant.offboard_hold_count, world.tenant.offboard_hold_percent = 1, 100
    world.tenant.save(update_fields=["offboard_hold_count", "offboard_hold_percent"])
    world.leavers = [
        make_identity(world.tenant, "Cy", f"Crossed{n}", status=Identity.Status.ACTIVE)
        for n in range(3)
    ]
    return world


def _first_pauses_holding_the_breaker(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """The thread named FIRST pauses once it holds the breaker's tenant lock, until the
    other is seen waiting for a lock."""
    holds, release = threading.Event(), threading.Event()
    lock = lifecycle.lock_leaves_of

    def pausing(tenant):
        lock(tenant)
        if threading.current_thread().name == FIRST and not holds.is_set():
            holds.set()
            assert release.wait(WAIT_S), "the other ask never waited for a lock"

    monkeypatch.setattr(lifecycle, "lock_leaves_of", pausing)
    return holds, release


def _run(monkeypatch, first, second) -> None:
    holds, release = _first_pauses_holding_the_breaker(monkeypatch)

    def after_the_first():
        assert holds.wait(WAIT_S)
        second()

    after_the_first.__name__ = second.__name__
    released_once_waiting(first, after_the_first, release)


def _leave_statuses(tenant) -> list[str]:
    leaves = Job.objects.filter(tenant=tenant, kind=Job.Kind.LEAVE).order_by("pk")
    return list(leaves.values_list("status", flat=True))


@pytest.mark.parametrize("file_first", [True, False], ids=["file first", "page first"])
def test_a_file_and_a_page_leave_at_once_past_the_limit_hold_one(monkeypatch, world, file_first):
    tenant, tech = world.tenant, world.technician
    filed, paged = world.leavers[0], world.leavers[1]
    text = csv_text(["username", "leave_at"], [[filed.username, ""]])
    batch = service.upload(tenant, columns.OFFBOARD, "one.csv", text.encode(), actor=tech)
    assert batch.rows_valid == 1

    def start_the_file():
        service.start(batch, actor=tech)

    def leave_from_the_page():
        lifecycle.offboard_in_window(paged, OPTIONS, kind=Batch.Kind.PAGE, actor=tech)

    pair = (start_the_file, leave_from_the_page)
    _run(monkeypatch, *(pair if file_first else pair[::-1]))

    assert sorted(_leave_statuses(tenant)) == [Job.Status.HELD, Job.Status.QUEUED]
    second = paged if file_first else filed
    assert Job.objects.get(identity=second, kind=Job.Kind.LEAVE).status == Job.Status.HELD
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks


@pytest.mark.parametrize("adoption_first", [True, False], ids=["adoption first", "page first"])
def test_an_adopt_and_offboard_and_a_page_leave_at_once_hold_one(
    monkeypatch, world, adoption_first
):
    tenant, tech = world.tenant, world.technician
    unmanaged, paged = unmanaged_person_of(world), world.leavers[1]

    def adopt_and_offboard():
        adoption.offboard(unmanaged, [], OPTIONS, tech)

    def leave_from_the_page():
        lifecycle.offboard_in_window(paged, OPTIONS, kind=Batch.Kind.PAGE, actor=tech)

    pair = (adopt_and_offboard, leave_from_the_page)
    _run(monkeypatch, *(pair if adoption_first else pair[::-1]))

    assert sorted(_leave_statuses(tenant)) == [Job.Status.HELD, Job.Status.QUEUED]
    leaves = Job.objects.filter(tenant=tenant, kind=Job.Kind.LEAVE)
    adopted = leaves.exclude(identity=paged).get()  # the adopted person's leave
    second = leaves.get(identity=paged) if adoption_first else adopted
    assert second.status == Job.Status.HELD
    report = verify_all(tenant.pk)
    assert report.ok, report.breaks
