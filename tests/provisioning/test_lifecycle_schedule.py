"""The due-job scanner and the circuit breaker, without directories (nothing gets sent)."""

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch, Identity, Job

pytestmark = pytest.mark.django_db


def people(world, count: int) -> list[Identity]:
    return [
        Identity.objects.create(
            tenant=world.tenant,
            first_name=f"P{n}",
            last_name="Leaver",
            display_name=f"P{n} Leaver",
            username=f"p{n}.leaver@{world.tenant.primary_domain}",
            email=f"p{n}.leaver@{world.tenant.primary_domain}",
            status=Identity.Status.ACTIVE,
        )
        for n in range(count)
    ]


def test_leaves_of_separate_webhook_batches_that_fall_due_together_are_held(alpha, monkeypatch):
    from provisioning import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: None)  # nothing may be enqueued
    alpha.tenant.offboard_hold_count = 2
    alpha.tenant.save()
    at = timezone.now() + timezone.timedelta(days=3)
    options = lifecycle.OffboardingOptions()
    jobs = []
    for person in people(alpha, 3):  # each arrived in its own hour, each batch under the limit
        batch = Batch.objects.create(tenant=alpha.tenant, kind=Batch.Kind.WEBHOOK)
        jobs.append(
            lifecycle.request_offboarding(person, options, actor="webhook", at=at, batch=batch)
        )
    assert lifecycle.start_due_jobs(now=at) == 0
    statuses = set(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True))
    assert statuses == {Job.Status.HELD}
    held = Batch.objects.get(kind=Batch.Kind.SCHEDULE)
    assert held.status == Batch.Status.HELD and held.jobs.count() == 3


def test_a_single_due_leaver_is_never_held(alpha, monkeypatch):
    from provisioning import tasks

    started = []
    monkeypatch.setattr(tasks.run_job, "delay", started.append)
    alpha.tenant.offboard_hold_count = 1
    alpha.tenant.save()
    (person,) = people(alpha, 1)
    at = timezone.now() + timezone.timedelta(hours=2)
    job = lifecycle.request_offboarding(
        person, lifecycle.OffboardingOptions(), actor="system", at=at
    )
    assert lifecycle.start_due_jobs(now=at - timezone.timedelta(seconds=1)) == 0
    assert lifecycle.start_due_jobs(now=at) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_a_scheduled_mover_changes_the_person_only_when_it_falls_due(alpha, monkeypatch):
    from provisioning import tasks
    from tenants.models import RoleTemplate

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: None)
    (person,) = people(alpha, 1)
    person.role_templates.set([alpha.template])
    support = RoleTemplate.objects.create(tenant=alpha.tenant, name="Support", groups=["Help"])
    change = lifecycle.ChangeRequest([support], {"department": "Support"})
    at = timezone.now() + timezone.timedelta(days=1)

    cancelled = lifecycle.request_change(person, change, actor="system", at=at)
    assert list(person.role_templates.all()) == [alpha.template]  # nothing saved yet
    assert lifecycle.cancel_job(cancelled, actor="system")
    assert lifecycle.start_due_jobs(now=at) == 0
    person.refresh_from_db()
    assert list(person.role_templates.all()) == [alpha.template] and person.attributes == {}

    job = lifecycle.request_change(person, change, actor="system", at=at)
    assert lifecycle.start_due_jobs(now=at) == 1
    person.refresh_from_db()
    job.refresh_from_db()
    assert list(person.role_templates.all()) == [support]
    assert person.attributes == {"department": "Support"}
    assert job.status == Job.Status.QUEUED and "change" not in job.options
    # The job asks for the person's new desired state: the version the change made.
    assert job.desired_version == person.desired_version > 0


def test_someone_who_left_is_not_offboarded_again(alpha):
    (person,) = people(alpha, 1)
    person.status = Identity.Status.LEFT
    person.save()
    with pytest.raises(ValueError, match="has left already"):
        lifecycle.request_offboarding(person, lifecycle.OffboardingOptions(), actor="system")
    assert not Job.objects.filter(identity=person).exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="two transactions that lock rows interleave on PostgreSQL; SQLite serialises writers",
)
@pytest.mark.django_db(transaction=True)
def test_a_rehire_asked_as_the_hard_delete_falls_due_neither_deadlocks(alpha, monkeypatch):
    """Beat's scanner has locked the due hard delete and is about to lock the person; a
    rehire has locked the person and is about to cancel that delete. Each waits for the
    other's row: PostgreSQL would abort one (the rehire answers an error, or the whole tick
    of due jobs rolls back). The scanner leaves a person someone else holds for its next
    tick; the rehire cancels the delete, and the person is a joiner again."""
    from provisioning import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: None)
    (person,) = people(alpha, 1)
    Identity.objects.filter(pk=person.pk).update(status=Identity.Status.LEFT)
    now = timezone.now()
    delete = Job.objects.create(
        tenant=alpha.tenant,
        identity=person,
        kind=Job.Kind.DELETE,
        status=Job.Status.SCHEDULED,
        not_before=now,
    )
    scanner_holds_the_job, rehire_holds_the_person = threading.Event(), threading.Event()
    real_start, real_lock = lifecycle.start_job, lifecycle._lock_pending
    scanner_errors: list[BaseException] = []

    def start_job(job, **kwargs):
        scanner_holds_the_job.set()
        assert rehire_holds_the_person.wait(timeout=30)
        return real_start(job, **kwargs)

    def lock_pending(identity):  # the rehire holds the person, and reaches for its jobs
        rehire_holds_the_person.set()
        return real_lock(identity)

    def scan():
        try:
            lifecycle.start_due_jobs(now=now)
        except BaseException as error:  # reported below
            scanner_errors.append(error)
        finally:
            connections.close_all()

    monkeypatch.setattr(lifecycle, "start_job", start_job)
    monkeypatch.setattr(lifecycle, "_lock_pending", lock_pending)
    scanner = threading.Thread(target=scan)
    scanner.start()
    assert scanner_holds_the_job.wait(timeout=30)
    lifecycle.request_restore(Identity.objects.get(pk=person.pk), actor="system")
    scanner.join(timeout=60)
    assert not scanner.is_alive() and scanner_errors == []
    delete.refresh_from_db()
    assert delete.status == Job.Status.CANCELLED
    assert Identity.objects.get(pk=person.pk).status == Identity.Status.JOINER


def test_a_held_leave_cancelled_as_its_batch_is_confirmed_stays_cancelled(
    alpha, msp_admin, monkeypatch
):
    """An MSP admin confirms a held batch of leaves; a technician cancels one of those
    leaves in the same moment. The confirm read the batch's held jobs before the cancel
    committed: it must not start that cancelled leave and make the person a leaver."""
    from provisioning import tasks

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: None)
    alpha.tenant.offboard_hold_count = 2
    alpha.tenant.save()
    at = timezone.now() + timezone.timedelta(days=3)
    jobs = [
        lifecycle.request_offboarding(p, lifecycle.OffboardingOptions(), actor="system", at=at)
        for p in people(alpha, 3)
    ]
    assert lifecycle.start_due_jobs(now=at) == 0
    batch = Batch.objects.get(kind=Batch.Kind.SCHEDULE)
    kept = jobs[0].identity
    real_start = lifecycle.start_job

    def start_job(job, **kwargs):
        if job.pk == jobs[0].pk:  # the cancel commits as the confirm gets here
            assert lifecycle.cancel_job(Job.objects.get(pk=job.pk), actor="system")
        return real_start(job, **kwargs)

    monkeypatch.setattr(lifecycle, "start_job", start_job)
    lifecycle.confirm_batch(batch, actor=msp_admin)
    assert Job.objects.get(pk=jobs[0].pk).status == Job.Status.CANCELLED
    assert Identity.objects.get(pk=kept.pk).status == Identity.Status.ACTIVE
    assert Job.objects.get(pk=jobs[1].pk).status == Job.Status.QUEUED


def test_a_joiner_offboarded_before_their_first_day_loses_the_first_day_sign_in(alpha, monkeypatch):
    """Offboarding a joiner created ahead left their "Allow sign-in on the first day" on the
    schedule and on their page, under "Left". The leave cancels it; a restore before the start
    date schedules it again."""
    from provisioning import tasks
    from provisioning.lifecycle.queries import upcoming_jobs

    monkeypatch.setattr(tasks.run_job, "delay", lambda job_id: None)
    (person,) = people(alpha, 1)
    first_day = timezone.now() + timezone.timedelta(days=2)
    person.status, person.enable_at = Identity.Status.JOINER, first_day
    person.save()
    enable = Job.objects.create(
        tenant=alpha.tenant,
        identity=person,
        kind=Job.Kind.CHANGE,
        status=Job.Status.SCHEDULED,
        not_before=first_day,
        options={"enable": True},
    )
    lifecycle.request_offboarding(person, lifecycle.OffboardingOptions(), actor="system")
    enable.refresh_from_db()
    assert enable.status == Job.Status.CANCELLED
    assert not [j for j in upcoming_jobs([alpha.tenant]) if j.options.get("enable")]

    lifecycle.request_restore(person, actor="system")
    again = [j for j in upcoming_jobs([alpha.tenant]) if j.options.get("enable")]
    assert [(j.identity_id, j.not_before) for j in again] == [(person.pk, first_day)]
