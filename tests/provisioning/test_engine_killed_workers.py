"""Real Celery workers on the test database killed (SIGKILL) at random moments of runs, a
first sign-in policy on, against a directory that is slow, fails a share of its calls and
throttles in bursts: every person ends as last asked. Its helpers and the schedule's seed
(CONVERGE_SEED, CONVERGE_ROUNDS) are test_engine_stopped_workers.py's; it is a file of its
own so that `--dist loadfile` can give it to another pytest worker than the frozen worker,
the threads and the line timer (the four were one unit of some 600 s under load)."""

from __future__ import annotations

import time
import uuid

import pytest
from django.utils import timezone

from provisioning.models import Job
from tenants.models import RoleTemplate
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_stopped_workers import (
    CALM,
    RUN_PHASES,
    SUPPORT,
    Person,
    alone_on_the_queue,  # noqa: F401 - fixture
    ask,
    assert_all_succeeded,
    assert_pass_kept_is_held,
    phase_of,
    rounds,
    schedule,
    settle,
    start_worker,  # noqa: F401 - fixture
    valid_asks,
)
from tests.provisioning.test_first_sign_in import manager_of, onboard, set_policy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.timeout(1800)  # stuck jobs are reported after SETTLE_S
def test_workers_killed_at_random_moments_leave_everyone_as_last_asked(
    on_sandbox,
    start_worker,  # noqa: F811
):
    """Two joiners with a first sign-in policy (a Temporary Access Pass, kept for their
    manager), then moves, leaves and restores asked at random moments, on a directory that
    is slow and fails a share of its calls and throttles in bursts; the worker is killed
    (SIGKILL) at random moments of the runs and another started. Every job ends Succeeded,
    every person is as last asked, and a person's pass is kept once, and is the one the
    directory holds (no pass asked after it replaced it)."""
    rng, seed = schedule("killed workers")
    phases = []
    for n in range(rounds()):
        dirs = make_directories(on_sandbox, f"kil{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
        support = RoleTemplate.objects.create(tenant=dirs.tenant, name="Support", groups=SUPPORT)
        manager = manager_of(dirs)
        set_policy(dirs, entra_method="tap")
        faults = {"error_rate": rng.choice([0.0, 0.03, 0.08]), "jitter_ms": 100}
        dirs.behave("entra", latency_ms=rng.choice([100, 300, 600]), **faults)
        why = f"{seed}, round {n}, {faults}"
        worker = start_worker()
        jobs = Job.objects.filter(tenant=dirs.tenant)
        people = [
            Person(dirs, onboard(dirs, manager.username, f"Kim{n}{i}", "Kill").identity)
            for i in range(2)
        ]
        for _ in range(4):
            if rng.random() < 0.7:
                worker = killed_while_running(worker, start_worker, jobs, rng, phases)
            if rng.random() < 0.3:
                dirs.behave("entra", throttle_next=rng.randint(3, 12))
            person = rng.choice(people)
            ask(person, rng.choice(valid_asks(person)), support)
            time.sleep(rng.uniform(0, 1.0))
        worker = killed_while_running(worker, start_worker, jobs, rng, phases)
        settle(jobs, why)
        worker.kill()
        dirs.behave("entra", **CALM)  # the checks' own reads
        assert_all_succeeded(jobs, why)
        for person in people:
            assert person.held() == person.expected(), (why, person.identity.username)
            assert_pass_kept_is_held(dirs, person.identity, why)
    print(f"killed workers: {rounds()} rounds passed, {len(phases)} kills at: {phases}")


def killed_while_running(worker, start, jobs, rng, phases: list[str]):
    """SIGKILL `worker` when a run of one of `jobs` is in a phase drawn at random (or after
    a while without one), and start another."""
    target, deadline = rng.choice(RUN_PHASES), time.monotonic() + 10
    while time.monotonic() < deadline:
        if any(phase_of(job) == target for job in jobs.filter(status=Job.Status.RUNNING)):
            break
        time.sleep(0.02)
    time.sleep(rng.uniform(0, 0.05))  # within the phase, mostly
    worker.kill()
    running = list(jobs.filter(status=Job.Status.RUNNING))
    phases.extend([phase_of(job) for job in running] or ["idle"])
    leases_run_out(jobs)
    return start()


def leases_run_out(jobs) -> None:
    """Until the leases of the killed worker's runs and parked jobs have run out, so that
    the next worker's start sends them again (`_resume_on_start`), as it did when a start
    took longer than a lease (10 to 15 s against 5): its spare is ready in about a second."""
    held = jobs.filter(status__in=[Job.Status.RUNNING, Job.Status.WAITING])
    ends = [end for end in held.values_list("lease_until", flat=True) if end]
    if ends:
        time.sleep(max(0.0, (max(ends) - timezone.now()).total_seconds()) + 0.05)
