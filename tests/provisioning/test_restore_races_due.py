"""Restores racing the clock's tick that starts their people's due jobs, in real concurrent
transactions (PostgreSQL; convergence check converge17).

`start_due_jobs` locks the due jobs' rows (skipping locked ones), then each person with
`skip_locked` (a person an action holds stays scheduled for the next tick); a restore locks
the person, then cancels their scheduled hard delete and leaves. Leavers whose hard delete
falls due, and leavers with a stale leave falling due while their hard delete waits (the
restore's first cancel records, holding the tenant's audit head, before its second waits for
the tick's row lock: the order that could deadlock with the tick's records of others), are
restored from threads while ticks run. Every person must end asked back (a RESTORE job, or a
rehire's JOIN if the hard delete started first, never both cancelled and started), nothing of
theirs left scheduled, no transaction failing, each restore in the trail once, the chain
whole."""

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
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.factories import make_tenant_world

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]

PEOPLE, ROUNDS = 8, 4
OFFBOARD = lifecycle.OffboardingOptions(delete_after_days=0).as_dict()


def leaver(tenant, n: int, *, stale_leave: bool) -> Identity:
    person = Identity.objects.create(
        tenant=tenant,
        first_name="Rae",
        last_name=f"Restored{n}",
        display_name=f"Rae Restored{n}",
        username=f"rae.restored{n}@{tenant.primary_domain}",
        email=f"rae.restored{n}@{tenant.primary_domain}",
        status=Identity.Status.LEFT,
        leave_options=OFFBOARD,
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


def test_restores_racing_the_tick_end_asked_back(db):
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
        people = [
            leaver(world.tenant, round_ * PEOPLE + n, stale_leave=n % 2 == 1) for n in range(PEOPLE)
        ]
        order = rng.sample(people, len(people))
        pauses = [rng.uniform(0, 0.02) for _ in people]
        start = threading.Barrier(3)

        def restores(order=order, pauses=pauses, start=start):
            start.wait()
            for person, pause in zip(order, pauses, strict=True):
                time.sleep(pause)
                lifecycle.request_restore(person, actor="system")

        def ticks(start=start):
            start.wait()
            for _ in range(6):
                lifecycle.start_due_jobs()
                time.sleep(rng.uniform(0, 0.01))

        threads = [threading.Thread(target=guarded(w)) for w in (restores, ticks, ticks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            pytest.fail(f"seed {seed}:\n" + "\n".join(errors), pytrace=False)
        lifecycle.start_due_jobs()  # what the next tick finds

        for person in people:
            person.refresh_from_db()
            latest = person.jobs.order_by("-pk").first()
            why = (seed, person.username, list(person.jobs.values_list("kind", "status")))
            assert person.status == Identity.Status.JOINER, why
            assert not person.jobs.filter(status__in=lifecycle.PENDING_STATUSES).exists(), why
            deletes = person.jobs.filter(kind=Job.Kind.DELETE)
            started = deletes.exclude(status=Job.Status.CANCELLED).exists()
            # A hard delete that started first: the restore is a rehire (a new join).
            assert latest.kind == (Job.Kind.JOIN if started else Job.Kind.RESTORE), why
            assert latest.desired_version == person.desired_version, why
            restored = AuditEvent.objects.filter(
                target_id=str(person.pk), action__in=("identity.restore", "identity.rehire")
            )
            assert restored.count() == 1, why
    report = verify_all(world.tenant.pk)
    assert report.ok, (seed, report.breaks)
    print(f"restore vs tick: seed {seed}, {ROUNDS * PEOPLE} people")
