"""A model-based test of the provisioning engine (issue 13).

Random sequences of joins, moves, leaves and restores for a few people of one tenant with
both an Entra and an Okta connection go through the service functions the pages call, each
submitted without waiting for the person's previous job, as the pages allow. Real Celery
workers run the jobs against the sandbox. At the end every job must be finished, and each
person's account in each directory, read over the sandbox's control API, must be what the
model in `engine_model.py` says was asked: present, enabled or not, groups, licences and apps.

Hypothesis draws the sequences; the directory comparison is collected as a report rather
than raised inside the machine, so that a failure caused by a race is reported once, with
the steps that led to it, instead of being replayed (and called flaky) by Hypothesis.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from portal.models import Role
from provisioning import quarantine, services
from provisioning.engine.tasks import resume_stalled_jobs, run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tenants.models import RoleTemplate
from tests.factories import make_person
from tests.provisioning.directories import make_directories
from tests.provisioning.engine_model import (
    EXTRA_GROUP,
    KEEP_CHOICES,
    KINDS,
    TEMPLATES,
    Person,
    differences,
    entra_account,
    okta_account,
)

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = (("Ann", "Model"), ("Ben", "Model"), ("Cy", "Model"), ("Dee", "Model"))
# How long the engine may take to finish what was asked, once faults are off. A job that is
# still not done after this is reported as stuck (it is not a pass).
SETTLE_S = 90.0
# How long `wait_for` gives one person's jobs before the sequence goes on regardless, and
# all of an example's `wait_for` together (under faults a job may retry for a minute).
WAIT_FOR_S = 20.0
WAIT_BUDGET_S = 30.0
KILL_WITHIN_S = 10.0  # the end of a faulty example waits this long for a job to be running
BEAT_EVERY_S = 2.0  # the test stands in for beat while it waits (see `beat`)
FAULTS = {
    "entra": {"error_rate": 0.15, "replication_lag_ms": 1500},
    "okta": {"error_rate": 0.15, "replication_lag_ms": 1500, "rate_per_s": 10, "burst": 5},
}
CALM = {"error_rate": 0.0, "replication_lag_ms": 0, "rate_per_s": None}

RUNS = settings(
    deadline=None,
    database=None,  # each run draws new sequences; a failure prints the one it ran
    phases=(Phase.explicit, Phase.generate),  # shrinking would replay races for minutes
    suppress_health_check=list(HealthCheck),
)


class EngineMachine(RuleBasedStateMachine):
    """One example: a fresh tenant and directories, a few people, actions submitted at once."""

    server = None  # set by `machine_class`
    worker = None
    faults = False
    reports: list[str] = []

    def __init__(self) -> None:
        super().__init__()
        slug = f"model{uuid.uuid4().hex[:8]}"
        self.domain = f"{slug}.example"
        self.dirs = make_directories(self.server, slug, kinds=KINDS, **TEMPLATES["Sales"])
        self.templates = {"Sales": self.dirs.template}
        for name in ("Support", "Finance"):
            self.templates[name] = RoleTemplate.objects.create(
                tenant=self.dirs.tenant, name=name, department=name, **TEMPLATES[name]
            )
        self.actor = make_person(f"tech-{slug}", Role.TECHNICIAN, [self.dirs.tenant])
        self.unused = list(NAMES)
        self.model: dict[int, Person] = {}
        self.log: list[str] = []
        self.started = time.monotonic()
        self.killed = False
        self.kill_drawn = False  # drawn by the rule: the kill itself depends on the jobs
        self.wait_left = WAIT_BUDGET_S
        self.restart: Future | None = None
        if self.faults:
            for kind in KINDS:
                self.dirs.behave(kind, **FAULTS[kind])

    # -- actions ----------------------------------------------------------------------------

    @initialize(template=st.sampled_from(sorted(TEMPLATES)), extra=st.booleans())
    def first_join(self, template: str, extra: bool) -> None:
        self.join(template, extra)  # no example without anyone in it

    @precondition(lambda self: self.unused)
    @rule(template=st.sampled_from(sorted(TEMPLATES)), extra=st.booleans())
    def join(self, template: str, extra: bool) -> None:
        first, last = self.unused.pop(0)
        username = f"{first}.{last}@{self.domain}".lower()
        extra_groups = [EXTRA_GROUP] if extra else []
        request = services.OnboardingRequest(
            first, last, [self.templates[template]], extra_groups=extra_groups
        )
        job = services.request_onboarding(
            self.dirs.tenant, request, username=username, actor=self.actor
        )
        self.model[job.identity_id] = Person(username, template, tuple(extra_groups))
        self.note(job.identity_id, f"join as {template}{' + ' + EXTRA_GROUP if extra else ''}", job)

    @precondition(lambda self: self.model)
    @rule(data=st.data(), template=st.sampled_from(sorted(TEMPLATES)))
    def move(self, data, template: str) -> None:
        change = lifecycle.ChangeRequest([self.templates[template]])
        self.submit(
            self.pick(data, self.model),
            f"move to {template}",
            lambda identity: lifecycle.request_change(identity, change, actor=self.actor),
            lambda model: model.move(template),
        )

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def leave(self, data) -> None:
        # One argument, so that Hypothesis's simplest sequence (the first rule by argument
        # count, then name) is leaves submitted while the join runs, not just waits.
        person = self.pick(data, self.model)
        keep = data.draw(st.sampled_from(KEEP_CHOICES), label="keep")
        if self.model[person].left:
            # Asked again while leaving (a second click): with the same options, so that what
            # "the kept groups it held" means cannot depend on which leave ran first.
            keep = self.model[person].keep
        options = lifecycle.OffboardingOptions(keep_groups=list(keep), delete_after_days=None)
        self.submit(
            person,
            f"leave keeping {list(keep)}",
            lambda identity: lifecycle.request_offboarding(identity, options, actor=self.actor),
            lambda model: model.leave(keep),
        )

    @precondition(lambda self: self.leavers())
    @rule(data=st.data())
    def restore(self, data) -> None:
        """Of someone asked to leave (the service refuses while the leave has not finished)."""
        self.submit(
            self.pick(data, self.leavers()),
            "restore",
            lambda identity: lifecycle.request_restore(identity, actor=self.actor),
            lambda model: model.restore(),
        )

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def wait_for(self, data) -> None:
        """Let one person's jobs finish (so a restore can follow a leave), then check them."""
        person = self.pick(data, self.model)
        self.log.append(f"{self.clock()} wait for {self.model[person].username}")
        budget = min(WAIT_FOR_S, self.wait_left)
        waited = time.monotonic()
        stuck = self.settle(Job.objects.filter(identity_id=person), budget)
        self.wait_left -= time.monotonic() - waited
        if stuck:
            # Under faults a job may retry for longer: no verdict yet, the end will give one.
            self.log.append(f"{self.clock()} (still running, going on)")
            return
        silent, report = self.check(person, "after its jobs finished mid-run")
        # A job that failed under faults may be retried: the end judges it. A job that says
        # Succeeded while its person differs is a failure now, whatever comes later.
        if silent:
            self.reports.append(self.report_header() + "\n".join(report))

    # The precondition reads no job: one that depends on the workers' timing draws a rule
    # in one run of a sequence and not in its replay, which Hypothesis reports as a flaky
    # strategy (FlakyStrategyDefinition, --hypothesis-seed=120612 with MODEL_EXAMPLES=8).
    @precondition(lambda self: self.faults and not self.kill_drawn)
    @rule()
    def kill_worker_when_running(self) -> None:
        """SIGKILL the worker once a job runs (or after KILL_WITHIN_S regardless)."""
        self.kill_drawn = True
        self.kill_worker_mid_run()

    def kill_worker(self) -> None:
        """SIGKILL the worker mid-run and start another, as an operator's crash would."""
        unfinished = list(
            self.tenant_jobs().exclude(status__in=Job.DONE).values_list("pk", "status")
        )
        self.worker.kill()
        # The new worker boots (some seconds) while the actions go on, as after a crash.
        pool = ThreadPoolExecutor(max_workers=1)
        self.restart = pool.submit(self.worker.start)
        pool.shutdown(wait=False)
        self.killed = True
        running = Counter(status for _, status in unfinished)
        self.log.append(f"{self.clock()} worker killed; unfinished jobs: {dict(running)}")
        # The dead worker had taken queued jobs' messages from the broker folder. Beat
        # re-enqueues a job still queued after five minutes; the test cannot wait that long,
        # so it re-enqueues them now. run_job is safe to run twice: a job another worker
        # holds or has finished is not claimed again.
        for pk, status in unfinished:
            if status == Job.Status.QUEUED:
                run_job.delay(pk)

    def submit(self, person: int, what: str, call, change) -> None:
        identity = Identity.objects.get(pk=person)
        try:
            job = call(identity)
        except ValueError as refused:
            self.note(person, f"{what}: refused ({refused})", None)
            return  # refused by the service: the model does not change either
        change(self.model[person])
        self.note(person, what, job)

    def note(self, person: int, what: str, job: Job | None) -> None:
        model = self.model[person]
        suffix = f" -> job {job.pk}" if job else ""
        model.history.append(f"{what}{suffix}")
        self.log.append(f"{self.clock()} {model.username}: {what}{suffix}")

    def pick(self, data, people) -> int:
        return data.draw(st.sampled_from(sorted(people)), label="person")

    def leavers(self) -> list[int]:
        return [pk for pk, person in self.model.items() if person.left]

    def clock(self) -> str:
        return f"t+{time.monotonic() - self.started:4.1f}s"

    # -- the end of an example --------------------------------------------------------------

    def teardown(self) -> None:
        if self.faults and not self.killed and len(self.log) > 1:
            # Every faulty example kills the worker once (not one Hypothesis gave up drawing
            # after its first join).
            self.kill_worker_mid_run()
        if self.faults:
            for kind in KINDS:
                self.dirs.behave(kind, **CALM)
            self.log.append(f"{self.clock()} faults off")
        stuck = self.settle(self.tenant_jobs(), SETTLE_S)
        self.log.append(f"{self.clock()} settled")
        lines = [stuck] if stuck else []
        for person in self.model:
            lines += self.check(person, "at the end")[1]
        if lines:
            self.reports.append(self.report_header() + "\n".join(lines))

    def check(self, person: int, when: str) -> tuple[bool, list[str]]:
        """The person's accounts against the model: [] when they match, else a report (a
        line per difference, with what was asked and the jobs), and whether the person's
        newest job says it succeeded."""
        model = self.model[person]
        states = {"entra": self.dirs.entra_state(), "okta": self.dirs.okta_state()}
        read = {"entra": entra_account, "okta": okta_account}
        lines = [
            f"    {kind}: {line}"
            for kind in KINDS
            for line in differences(model.expected(kind), read[kind](states[kind], model.username))
        ]
        if not lines:
            return False, []
        jobs = list(
            Job.objects.filter(identity_id=person)
            .exclude(status=Job.Status.SCHEDULED)
            .order_by("pk")
        )
        newest = jobs[-1]
        silent = newest.status == Job.Status.SUCCEEDED
        verdict = f"newest job #{newest.pk} ({newest.kind}) says {newest.status.upper()}"
        return silent, [
            f"  {model.username} {when}: {verdict} {newest.error}".rstrip(),
            f"    asked: {'; '.join(model.history)}",
            f"    want: {'left' if model.left else 'active as ' + model.template}",
            f"    jobs: {', '.join(f'#{j.pk} {j.kind} {j.status}' for j in jobs)}",
            *lines,
        ]

    def report_header(self) -> str:
        steps = "\n".join(f"    {n}. {line}" for n, line in enumerate(self.log, 1))
        return f"tenant {self.dirs.tenant.slug}, steps:\n{steps}\n"

    def kill_worker_mid_run(self) -> None:
        if not self.tenant_jobs().exclude(status__in=Job.DONE).exists():
            self.log.append(f"{self.clock()} no job left to kill the worker under")
            return
        deadline = time.monotonic() + KILL_WITHIN_S
        while not self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.kill_worker()

    def in_flight(self) -> bool:
        running = (Job.Status.RUNNING, Job.Status.WAITING)
        return self.tenant_jobs().filter(status__in=running).exists()

    def tenant_jobs(self):
        return Job.objects.filter(tenant=self.dirs.tenant).exclude(status=Job.Status.SCHEDULED)

    def settle(self, jobs, budget: float) -> str:
        """Wait until none of `jobs` is unfinished; '' or a line naming the stuck ones."""
        if self.restart is not None:
            self.restart.result()  # the restarted worker is up (or its start failed)
        deadline = time.monotonic() + budget
        next_beat = 0.0
        while True:
            unfinished = jobs.exclude(status__in=Job.DONE).exclude(status=Job.Status.SCHEDULED)
            if not unfinished.exists():
                return ""
            if time.monotonic() > deadline:
                stuck = ", ".join(
                    f"#{j.pk} {j.kind} {j.status} ({j.waiting_reason})" for j in unfinished
                )
                return f"  jobs unfinished after {budget:.0f} s: {stuck}"
            if time.monotonic() >= next_beat:
                beat()
                next_beat = time.monotonic() + BEAT_EVERY_S
            time.sleep(0.2)


def beat() -> None:
    """What beat runs, in this process: the tasks that resume jobs whose worker died and
    probe quarantined connections. Their own rules decide what is due."""
    resume_stalled_jobs()
    quarantine.probe_due_connections()


def machine_class(server, worker, faults: bool) -> type[EngineMachine]:
    attributes = {"server": server, "worker": worker, "faults": faults, "reports": []}
    return type(
        "FaultyEngineMachine" if faults else "CalmEngineMachine", (EngineMachine,), attributes
    )


def run_machine(server, worker, *, faults: bool, examples: int, steps: int) -> None:
    machine = machine_class(server, worker, faults)
    run_state_machine_as_test(
        machine, settings=settings(RUNS, max_examples=examples, stateful_step_count=steps)
    )
    if machine.reports:
        pytest.fail(
            "Directories differ from what was asked:\n" + "\n\n".join(machine.reports),
            pytrace=False,
        )


def examples(default: int) -> int:
    """More examples for a longer hunt: MODEL_EXAMPLES=<n> (a seed: --hypothesis-seed)."""
    return int(os.environ.get("MODEL_EXAMPLES") or default)


def test_directories_end_as_asked_whatever_the_order_of_jobs(on_sandbox, worker):
    run_machine(on_sandbox, worker, faults=False, examples=examples(4), steps=10)


@pytest.mark.timeout(600)  # stuck jobs are reported after SETTLE_S rather than cut off
def test_directories_end_as_asked_through_faults_and_a_killed_worker(on_sandbox, worker, settings):
    # A connection the faults trip is probed (by `beat` above) soon after, not in 3 minutes.
    settings.QUARANTINE_COOLDOWN_SECONDS = 5
    run_machine(on_sandbox, worker, faults=True, examples=examples(2), steps=10)
