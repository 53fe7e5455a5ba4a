"""Real Celery workers on the test database, stopped the hard ways a host stops them, against
a directory that misbehaves (the sandbox's latency, share of failed calls, 429 bursts and
calls that hang), with a randomized schedule: a worker frozen (SIGSTOP) past its lease and
woken (SIGCONT) after another took its job over; workers killed (SIGKILL) at random moments
of runs, a first sign-in policy on (test_engine_killed_workers.py: a file of its own, so that
another pytest worker runs it beside these); asks for the same people from several threads
at once.
Each must change only the time things take: every person ends as last asked, read from the
sandbox over HTTP, and the jobs say Succeeded only for what the directory holds.

The schedule is drawn from a seed, printed and shown in every failure; rerun one with
CONVERGE_SEED=<seed>, and more rounds with CONVERGE_ROUNDS=<n> (2 by default; a round
takes a minute or two).
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
import uuid
from datetime import datetime

import pytest
from django.db import connections

from portal.audit.models import AuditEvent
from provisioning import throttle
from provisioning.engine import admission
from provisioning.engine.tasks import resume_stalled_jobs
from provisioning.first_sign_in.models import Delivery
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tenants.models import RoleTemplate
from tests.conftest import STARTED_WORKERS
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard as onboard_joiner
from tests.provisioning.test_first_sign_in import manager_of, onboard, set_policy

pytestmark = pytest.mark.django_db(transaction=True)

SETTLE_S = 420.0  # liveness guard only: a job still unfinished then is reported
SALES, SUPPORT = ["Sales", "Staff"], ["Staff", "VPN Users"]
LEAVE = lifecycle.OffboardingOptions(delete_after_days=None)
CALM = {"error_rate": 0.0, "timeout_rate": 0.0, "latency_ms": 0, "throttle_next": 0}
ENDED_TASK = re.compile(r"run_job\[[^]]+\] (succeeded|retry|raised)")
RECEIVED_TASK = re.compile(r"run_job\[[^]]+\] received")
LINE_TIMER = re.compile(r"line_fallback\[[^]]+\] received")
# Short leases; only Entra's connector warmed as a worker starts (the directories here are
# Entra's alone): the okta SDK's import was some 6 s of CPU in each of about fifteen starts.
WORKER = {"JOB_LEASE_SECONDS": "5", "WARM_CONNECTOR_KINDS": "entra"}


@pytest.fixture(autouse=True)
def alone_on_the_queue():
    """The session's worker, when an earlier file on this pytest worker started it, is stopped
    for the test: on the same queue it could take the jobs, and the worker frozen or killed
    here would then hold none of them."""
    paused = [started for started in STARTED_WORKERS if started.alive()]
    for started in paused:
        started.stop()
    yield
    for started in paused:
        started.start()


@pytest.fixture
def start_worker(worker_factory):
    """Start a worker of WORKER's environment, the next one's imports done meanwhile (a
    spare waits, not consuming: tests/provisioning/warm_worker.py), so that the one started
    after a kill or a freeze consumes in about a second rather than 10 to 15."""
    with worker_factory.spare_kept(**WORKER):
        yield lambda: worker_factory(**WORKER)


def schedule(test: str) -> tuple[random.Random, str]:
    seed = int(os.environ.get("CONVERGE_SEED") or random.randrange(1 << 30))
    print(f"{test}: CONVERGE_SEED={seed}")
    return random.Random(seed), f"seed {seed}"


def rounds() -> int:
    return int(os.environ.get("CONVERGE_ROUNDS") or 2)


class Person:
    """One person, and what was last asked for them: their template, whether they left."""

    def __init__(self, dirs, identity: Identity) -> None:
        self.dirs, self.identity, self.groups, self.left = dirs, identity, SALES, False

    def expected(self) -> tuple[bool, list[str]]:
        return (False, []) if self.left else (True, self.groups)

    def held(self) -> tuple[bool, list[str]] | None:
        user = self.dirs.entra_user(self.identity.username)
        if user is None:
            return None
        groups = sorted(g for g in user["groups"] if "dynamic" not in g)
        return user["accountEnabled"], groups


def ask(person: Person, what: str, support: RoleTemplate) -> Job:
    """One ask, as the pages make it; the person's expectation follows it."""
    identity = Identity.objects.get(pk=person.identity.pk)
    if what == "leave":
        job = lifecycle.request_offboarding(identity, LEAVE, actor="system")
        person.left = True
    elif what == "restore":
        job = lifecycle.request_restore(identity, actor="system")
        person.left = False
    else:
        template = support if what == "support" else person.dirs.template
        job = lifecycle.request_change(
            identity, lifecycle.ChangeRequest([template]), actor="system"
        )
        person.groups = SUPPORT if what == "support" else SALES
    return job


def valid_asks(person: Person) -> list[str]:
    return ["restore", "support", "sales"] if person.left else ["leave", "support", "sales"]


def settle(jobs, why: str) -> None:
    """Until every job of `jobs` (a queryset) has ended, doing what beat does (resume the
    jobs of killed or frozen workers) every half second."""
    deadline = time.monotonic() + SETTLE_S
    while jobs.exclude(status__in=Job.DONE).exists():
        unfinished = list(
            jobs.exclude(status__in=Job.DONE).values_list("pk", "status", "waiting_reason")
        )
        assert time.monotonic() < deadline, f"{why}: unfinished {unfinished}"
        resume_stalled_jobs()
        time.sleep(0.5)


DONE = "after the job's end"
IN_FLIGHT = "a step's intent written, its call on its way or its outcome not written"
RUN_PHASES = ("first read", IN_FLIGHT, "between batches", "read-back or the job's end")


def assert_all_succeeded(jobs, why: str) -> None:
    failed = jobs.exclude(status=Job.Status.SUCCEEDED).order_by("pk")
    if failed.exists():
        report = [
            f"{j.pk} {j.kind} of {j.identity_id} v{j.desired_version}: {j.status} {j.error}\n"
            + "".join(
                f"    {s.order} {s.action} {s.target_name}: {s.status} {s.error_kind} "
                f"{s.last_error} (attempts {s.attempts})\n"
                for s in j.steps.order_by("order")
            )
            for j in failed
        ]
        pytest.fail(f"{why}\n" + "".join(report), pytrace=False)


def phase_of(job: Job) -> str:
    """Where a run of `job` was when its worker stopped, as the database tells it."""
    job.refresh_from_db()
    steps = list(job.steps.values_list("status", flat=True))
    if job.is_done:
        return DONE
    if job.status != Job.Status.RUNNING:
        return f"parked ({job.status})"
    if Step.Status.RUNNING in steps:
        return IN_FLIGHT
    if not steps:
        return "first read"
    if all(s == Step.Status.PENDING for s in steps):
        return "round written, nothing sent"
    if Step.Status.PENDING in steps:
        return "between batches"
    return "read-back or the job's end"


def ended_tasks(worker) -> int:
    return len(ENDED_TASK.findall(worker.log_path.read_text()))


def unended_tasks(worker) -> int:
    """Runs the worker has received and not ended: running, or held until their time."""
    log = worker.log_path.read_text()
    return len(RECEIVED_TASK.findall(log)) - len(ENDED_TASK.findall(log))


def until(condition, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)


def sandbox_writes(dirs) -> dict:
    """The directory's writes so far, by route: a `$batch`'s sub-requests are counted each
    (a `$batch` of reads is no write). A token request changes nothing in the directory: a
    woken worker may fetch one as its credential refreshes (seed 216771394 did)."""
    calls = dirs.stats("entra")["calls"]
    return {
        k: v
        for k, v in calls.items()
        if not k.startswith("GET") and "$batch" not in k and "/oauth2/" not in k
    }


def job_rows(*jobs: Job) -> list:
    ids = [j.pk for j in jobs]
    rows = Job.objects.filter(pk__in=ids).values_list(
        "pk", "status", "runs", "finished_at", "steps_total", "converged_version", "error"
    )
    steps = Step.objects.filter(job_id__in=ids).values_list(
        "pk", "status", "attempts", "result", "finished_at", "last_error"
    )
    return [sorted(rows), sorted(steps)]


# -- a frozen worker ----------------------------------------------------------------------------


@pytest.mark.timeout(1800)  # stuck jobs are reported after SETTLE_S
def test_a_frozen_worker_woken_after_another_took_its_job_over_changes_nothing(
    on_sandbox, start_worker
):
    """A worker runs a join and is frozen (SIGSTOP) at a random moment; another worker takes
    the job over once the lease has run out, verifies it, and then a move that takes Sales
    away. The frozen worker is woken (SIGCONT): whatever it was about to do (send the
    round's adds, write their outcomes, a round, the job's end) must be fenced. It is frozen
    outside its database transactions, as a lease can only fence what it does next: frozen
    inside one it would hold its locks (on SQLite the whole file) until woken. Nothing more
    reaches the directory, no job or step row changes, no job event is added (a late answer
    to a call it had made is audited, as a `directory.*` event), and the person is as the
    move asked."""
    rng, seed = schedule("frozen worker")
    phases = []
    for n in range(rounds()):
        dirs = make_directories(on_sandbox, f"frz{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
        support = RoleTemplate.objects.create(tenant=dirs.tenant, name="Support", groups=SUPPORT)
        dirs.behave("entra", latency_ms=rng.choice([200, 600, 1200]), jitter_ms=150)
        frozen = start_worker()
        other = None
        try:
            join = onboard(dirs, "", first=f"Frida{n}", last="Frost")
            target = IN_FLIGHT if n == 0 else rng.choice(RUN_PHASES)  # the first: the call
            until(lambda j=join, t=target: phase_of(j) in (t, DONE), f"{target} ({seed})")
            time.sleep(rng.uniform(0, 0.05))  # within the phase, mostly
            # Not inside a database transaction: there it would keep the other worker from
            # the rows it locked (SQLite: the file) until woken, fence or no fence (on SQLite
            # a freeze inside a rate bucket's left the join running: seed 232701023 failed so).
            freezes = frozen.freeze_outside_transactions()
            phase = phase_of(join)
            tasks_before, unended = ended_tasks(frozen), unended_tasks(frozen)
            assert n > 0 or phase == DONE or unended, f"{seed}: the frozen worker ran no call"
            noted = phase if unended else f"{phase} (between runs: none to wake)"
            phases.append(noted + (f", frozen {freezes} times" if freezes > 1 else ""))
            other = start_worker()
            settle(Job.objects.filter(pk=join.pk), f"{seed}, round {n}, frozen: {phase}")
            person = Person(dirs, join.identity)
            move = ask(person, "support", support)
            settle(Job.objects.filter(pk=move.pk), f"{seed}, round {n}, the move")
            writes, rows = sandbox_writes(dirs), job_rows(join, move)
            events = AuditEvent.objects.count()
        finally:
            frozen.thaw()
        if phase != DONE and unended:  # the frozen run ends now, having lost the job
            until(lambda w=frozen, t=tasks_before: ended_tasks(w) > t, "end of the woken run")
        why = f"{seed}, round {n}, frozen: {phase}"
        join.refresh_from_db()
        move.refresh_from_db()
        late = AuditEvent.objects.order_by("pk")[events:]
        assert all(e.action.startswith("directory.") for e in late), (why, late)
        assert sandbox_writes(dirs) == writes, why
        assert job_rows(join, move) == rows, why
        assert [join.status, move.status] == [Job.Status.SUCCEEDED] * 2, why
        assert AuditEvent.objects.filter(action="job.finish", job_id=join.pk).count() == 1
        assert person.held() == (True, SUPPORT), why
        frozen.kill()
        other.kill()
        print(f"frozen worker, round {n}: passed, frozen at: {phase}")
    print(f"frozen worker: {len(phases)} rounds passed, frozen at: {phases}")


def assert_pass_kept_is_held(dirs, identity: Identity, why: str) -> None:
    """At most one pass kept for the person; the directory holds one exactly when one was
    kept, made before it was kept (a pass asked after it, a late call's, would replace it)."""
    kept = list(Delivery.objects.filter(identity=identity))
    user = dirs.entra_user(identity.username)
    path = f"/users/{user['id']}/authentication/temporaryAccessPassMethods"
    held = dirs.graph("GET", path).json()["value"]
    assert len(kept) <= 1 and len(held) == len(kept), (why, identity.username, held)
    if kept:
        made = datetime.fromisoformat(held[0]["createdDateTime"].replace("Z", "+00:00"))
        assert made <= kept[0].created_at, (why, identity.username, made, kept[0].created_at)


# -- asks from several threads ------------------------------------------------------------------


@pytest.mark.timeout(1800)  # stuck jobs are reported after SETTLE_S
def test_asks_from_several_threads_on_a_flaky_directory_end_as_last_asked(
    on_sandbox, worker_factory
):
    """Three people joined (a first sign-in pass each), then four threads ask moves, leaves
    and restores for them at once, at random, while the directory fails a share of its calls
    (500s and 503s), hangs a few past the client's patience, and throttles in bursts (429
    with Retry-After). The asks are taken in the order the person's lock gave them (their
    desired version); each person ends as the last one asked, every job Succeeded."""
    rng, seed = schedule("threads")
    dirs = make_directories(on_sandbox, f"thr{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    support = RoleTemplate.objects.create(tenant=dirs.tenant, name="Support", groups=SUPPORT)
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    worker = worker_factory(**WORKER)
    jobs = Job.objects.filter(tenant=dirs.tenant)
    people = [
        Person(dirs, onboard(dirs, manager.username, f"Tia{i}", "Thread").identity)
        for i in range(3)
    ]
    # A leaver's read is a `$batch` of ten GETs, each failed or hung by these shares: past
    # about one in ten it fails twenty reads in a row more often than not, and gives up.
    dirs.behave("entra", error_rate=0.05, timeout_rate=0.005, latency_ms=100, jitter_ms=80)
    asked: list[tuple[int, int, str]] = []  # (desired version, person, ask) of each taken
    seeds = [rng.randrange(1 << 30) for _ in range(4)]
    threads = [threading.Thread(target=asking, args=(s, people, support, asked)) for s in seeds]
    for thread in threads:
        thread.start()
    for _ in range(6):  # 429 bursts meanwhile
        dirs.behave("entra", throttle_next=rng.randint(2, 10))
        time.sleep(rng.uniform(0.2, 1.0))
    for thread in threads:
        thread.join()
    why = f"{seed}, asks {sorted(asked)}"
    settle(jobs, why)
    worker.kill()
    dirs.behave("entra", **CALM)  # the checks' own reads
    assert_all_succeeded(jobs, why)
    for person in people:
        for _, _, what in sorted(a for a in asked if a[1] == person.identity.pk):
            if what == "leave":
                person.left = True
            elif what == "restore":
                person.left = False
            else:
                person.groups = SUPPORT if what == "support" else SALES
        assert person.held() == person.expected(), (why, person.identity.username)
        assert_pass_kept_is_held(dirs, person.identity, why)
    print(f"threads: {len(asked)} asks taken, all as last asked")


def asking(seed: int, people: list[Person], support, asked: list) -> None:
    """A thread's five asks, each for a random person, refused ones (a restore of someone
    who has not left, a leave of someone who has) not taken."""
    rng = random.Random(seed)
    try:
        for _ in range(5):
            person = rng.choice(people)
            what = rng.choice(["leave", "restore", "support", "sales"])
            try:
                job = ask(Person(person.dirs, person.identity), what, support)
            except ValueError:
                continue
            asked.append((job.desired_version, person.identity.pk, what))
            time.sleep(rng.uniform(0, 0.4))
    finally:
        connections.close_all()


# -- a killed worker holding a line's timer -----------------------------------------------------


@pytest.mark.timeout(1200)
def test_a_worker_killed_holding_the_lines_timer_and_its_wake_ups_leaves_every_job_done(
    on_sandbox, start_worker
):
    """A throttled tenant's joiners wait their turn behind the few admitted, one timer for
    the tenant's line standing for their fallbacks (engine/admission.py `arm_line`). The
    worker is killed (SIGKILL) once it holds that timer's message (a countdown a worker
    keeps until its time): the timer is lost with it, and so are the wake-ups it had sent
    and the runs it had under way. Another worker starts; beat's `resume_stalled_jobs` (here
    every half second) sends each job whose lease has run out. Every job ends Succeeded, and
    the directory holds each person as asked."""
    dirs = make_directories(on_sandbox, f"kl{uuid.uuid4().hex[:6]}", rate_limit_per_s=3)
    paced = dirs.tenant.connections.get()
    paced.rate_burst = admission.TOKENS_PER_JOB  # a bucket that holds a joiner's round
    paced.save()
    throttle.reset(paced)
    assert throttle.reserve(paced, paced.rate_burst, 0.0)[0]  # at the ceiling now
    worker = start_worker()
    other = None
    try:
        jobs = [onboard_joiner(dirs, first=f"Line{n}", last="Killed") for n in range(6)]
        until(
            lambda: LINE_TIMER.search(worker.log_path.read_text()),
            "the line's timer received by the worker",
        )
        worker.kill()
        other = start_worker()
        ids = [job.pk for job in jobs]
        settle(Job.objects.filter(pk__in=ids), "killed holding the line's timer")
        assert_all_succeeded(Job.objects.filter(pk__in=ids), "killed holding the line's timer")
        for job in jobs:
            job.refresh_from_db()
            user = dirs.entra_user(job.identity.username)
            assert user is not None and user["accountEnabled"], job.identity.username
    finally:
        worker.kill()
        if other is not None:
            other.kill()
