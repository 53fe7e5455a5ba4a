"""Restores and leaves racing the clock's tick that starts their people's due jobs, in real
concurrent transactions (PostgreSQL; convergence check converge17).

`start_due_jobs` locks the due jobs' rows (skipping locked ones), then each person with
`skip_locked` (a person an action holds stays scheduled for the next tick), and records each
start (the tenant's audit head). A restore locks the person, then cancels their scheduled
hard delete and leaves; a leave cancels the leave it replaces, then a joiner's first-day
sign-in. Each cancel records. An action that recorded one cancel and then waited for a row the
tick held deadlocked with the tick waiting for the head (`lifecycle._lock_pending` now locks
the person's pending jobs first): leavers whose hard delete falls due, or whose stale leave
falls due while the hard delete waits, restored; joiners created ahead whose sign-in falls due
with a leave scheduled for later, offboarded now; from one thread while two run the tick.
Each person must end as asked (a restore's newest job a RESTORE, or a rehire's JOIN if the hard
delete started first; a leaver's a queued LEAVE), nothing of theirs left scheduled, no
transaction failing, each ask in the trail once, the chain whole."""

from __future__ import annotations

import random
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.factories import make_identity, make_tenant_world

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]


@pytest.fixture(autouse=True)
def no_worker_runs_the_jobs(monkeypatch):
    """The race is the lifecycle's, under the person's lock: the jobs it queues are checked
    as queued. A session's worker on the queue (an earlier file of this pytest worker started
    it) would take a queued leave and park it meanwhile."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)


PEOPLE, ROUNDS = 8, 4
OFFBOARD = lifecycle.OffboardingOptions(delete_after_days=0).as_dict()


def leaver(tenant, n: int, *, stale_leave: bool) -> Identity:
    person = make_identity(
        tenant, "Rae", f"Restored{n}", status=Identity.Status.LEFT, leave_options=OFFBOARD
    )
    left = Job.objects.create(
        tenant=tenant, identity=person, kind=Job.Kind.LEAVE, status=Job.Status.SUCCEEDED
    )
    delete = lifecycle.schedule_deletion(person, 1 if stale_leave else 0, leave_job=left)
    if not stale_leave:
        Job.objects.filter(pk=delete.pk).update(not_before=timezone.now() - timedelta(seconds=1))
    else:
        Job.objects.create(
            tenant=tenant,
            identity=person,
            kind=Job.Kind.LEAVE,
            status=Job.Status.SCHEDULED,
            not_before=timezone.now() - timedelta(seconds=1),
            options={"offboard": OFFBOARD},
        )
    return person


def joiner_starting(tenant, n: int) -> Identity:
    """A joiner created ahead whose first day's sign-in falls due, with a leave scheduled for
    later (a terminate that came early): a leave now replaces that one, then cancels the
    sign-in (`begin_leave`), whose row the tick may hold."""
    person = make_identity(
        tenant,
        "Jo",
        f"Joiner{n}",
        status=Identity.Status.JOINER,
        enable_at=timezone.now() - timedelta(seconds=1),
    )
    Job.objects.create(
        tenant=tenant,
        identity=person,
        kind=Job.Kind.CHANGE,
        status=Job.Status.SCHEDULED,
        not_before=timezone.now() - timedelta(seconds=1),
        options={"enable": True},
    )
    Job.objects.create(
        tenant=tenant,
        identity=person,
        kind=Job.Kind.LEAVE,
        status=Job.Status.SCHEDULED,
        not_before=timezone.now() + timedelta(days=1),
        options={"offboard": OFFBOARD},
    )
    return person


def race_the_tick(make_person, act, check) -> None:
    """ROUNDS rounds: PEOPLE people made, `act` on each from one thread (in a random order,
    with pauses) while two threads run the tick; no transaction may fail; `check` each."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    world = make_tenant_world("racing", "Racing Ltd")
    errors: list[str] = []

    def guarded(work):
        def run():
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - reported below, with the seed
                errors.append(f"{work.__name__}: {type(exc).__name__}: {exc}")
            finally:
                connections.close_all()

        return run

    for round_ in range(ROUNDS):
        people = [make_person(world.tenant, round_ * PEOPLE + n) for n in range(PEOPLE)]
        order = rng.sample(people, len(people))
        pauses = [rng.uniform(0, 0.02) for _ in people]
        start = threading.Barrier(3)

        def asks(order=order, pauses=pauses, start=start):
            start.wait()
            for person, pause in zip(order, pauses, strict=True):
                time.sleep(pause)
                act(person)

        def ticks(start=start):
            start.wait()
            for _ in range(6):
                lifecycle.start_due_jobs()
                time.sleep(rng.uniform(0, 0.01))

        threads = [threading.Thread(target=guarded(w)) for w in (asks, ticks, ticks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            pytest.fail(f"seed {seed}:\n" + "\n".join(errors), pytrace=False)
        lifecycle.start_due_jobs()  # what the next tick finds
        for person in people:
            person.refresh_from_db()
            why = (seed, person.username, list(person.jobs.values_list("kind", "status")))
            assert not person.jobs.filter(status__in=lifecycle.PENDING_STATUSES).exists(), why
            latest = person.jobs.order_by("-pk").first()
            assert latest.desired_version == person.desired_version, why
            check(person, latest, why)
    report = verify_all(world.tenant.pk)
    assert report.ok, (seed, report.breaks)
    print(f"race with the tick: seed {seed}, {ROUNDS * PEOPLE} people")


def test_restores_racing_the_tick_end_asked_back(db):
    def check(person, latest, why):
        assert person.status == Identity.Status.JOINER, why
        deletes = person.jobs.filter(kind=Job.Kind.DELETE)
        started = deletes.exclude(status=Job.Status.CANCELLED).exists()
        # A hard delete that started first: the restore is a rehire (a new join).
        assert latest.kind == (Job.Kind.JOIN if started else Job.Kind.RESTORE), why
        restored = AuditEvent.objects.filter(
            target_id=str(person.pk), action__in=("identity.restore", "identity.rehire")
        )
        assert restored.count() == 1, why

    race_the_tick(
        lambda tenant, n: leaver(tenant, n, stale_leave=n % 2 == 1),
        lambda person: lifecycle.request_restore(person, actor="system"),
        check,
    )


def test_leaves_racing_the_tick_end_as_leavers(db):
    def check(person, latest, why):
        assert person.status == Identity.Status.LEAVER, why
        assert latest.kind == Job.Kind.LEAVE and latest.status == Job.Status.QUEUED, why
        offboarded = AuditEvent.objects.filter(target_id=str(person.pk), action="identity.offboard")
        assert offboarded.count() == 1, why

    race_the_tick(
        joiner_starting,
        lambda person: lifecycle.request_offboarding(
            person, lifecycle.OffboardingOptions(delete_after_days=0), actor="system"
        ),
        check,
    )
