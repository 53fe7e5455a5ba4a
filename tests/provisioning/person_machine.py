"""What the model-based tests of one person's asks under disrupted runs share
(`test_engine_disrupted`, `test_engine_disrupted_kinds`): the asks' bookkeeping, runs of the
person's jobs as `run_now` stands them in (a run killed after its calls leaves its lease to
run out), the run to the end and what must hold there (no job stuck, the newest Succeeded).
Each test's machine adds its directories, its asks and what each directory must hold."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity, Job
from tests.provisioning.conftest import run_now

RUNS = settings(
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


class Killed(BaseException):
    """What a SIGKILL leaves of a run: nothing after this point happens."""


class PersonMachine(RuleBasedStateMachine):
    server = None  # set by run_machine
    monkeypatch = None
    reports: list[str] = []
    max_runs = 200  # runs of all the person's jobs at the end, before they count as stuck
    longest_wait = 0.2  # of a come-back time, between those runs (as `drive` waits)

    def __init__(self) -> None:
        super().__init__()
        self.identity_id: int | None = None
        self.log: list[str] = []

    # -- asks -------------------------------------------------------------------------------

    def submit(self, what: str, call, change) -> None:
        try:
            job = call(Identity.objects.get(pk=self.identity_id))
        except ValueError as refused:
            self.log.append(f"{what}: refused ({refused})")
            return
        change()
        self.log.append(f"{what} -> job {job.pk}")

    def delete_falls_due(self) -> None:
        scheduled = Job.objects.filter(
            identity_id=self.identity_id, kind=Job.Kind.DELETE, status=Job.Status.SCHEDULED
        )
        if not scheduled.exists():
            return
        lifecycle.start_due_jobs(now=timezone.now() + timedelta(days=1))
        if not scheduled.exists():
            self.asked.deleted = True
            self.log.append("the hard delete falls due")

    # -- runs -------------------------------------------------------------------------------

    def before_run(self, pk: int) -> None:
        """What the test plays before a job's run (nothing here)."""

    def run(self, pk: int) -> float:
        """One run of the job; the time it parked itself for (0 if none)."""
        self.before_run(pk)
        try:
            outcome = run_now(pk)
        except Killed:
            Job.objects.filter(pk=pk).update(lease_until=timezone.now() - timedelta(seconds=1))
            self.log.append(f"  job {pk}'s worker killed after its call")
            return 0.0
        if outcome.retry_in:
            # The wait the next run_now skips passes for the account's age too: a 404 within
            # the replication window after its creation counts as lag, past it as absence.
            skipped = timedelta(seconds=outcome.retry_in)
            DirectoryAccount.objects.filter(
                identity_id=self.identity_id, created_remotely_at__isnull=False
            ).update(created_remotely_at=F("created_remotely_at") - skipped)
        return outcome.retry_in or 0.0

    def unfinished(self) -> list[int]:
        jobs = Job.objects.filter(identity_id=self.identity_id).exclude(
            status__in=[*Job.DONE, Job.Status.SCHEDULED]
        )
        return list(jobs.order_by("pk").values_list("pk", flat=True))

    # -- the end ----------------------------------------------------------------------------

    def run_to_the_end(self) -> None:
        """Runs of the person's jobs until they end. Between runs a little real time passes,
        as `drive` lets it: a throttled connection's bucket refills and a turn comes only
        with the clock, which `run_now` cannot move (it moves the job's come-back time)."""
        for _ in range(self.max_runs):
            jobs = self.unfinished()
            if not jobs:
                return
            waits = [self.run(pk) for pk in jobs]
            time.sleep(min(max(waits) or 0.05, self.longest_wait))

    def jobs_ended_otherwise(self) -> list[str]:
        """What is wrong with the person's jobs once run to their end."""
        lines = []
        if stuck := self.unfinished():
            lines.append(f"jobs unfinished: {stuck}")
        newest = self.jobs().exclude(status=Job.Status.CANCELLED).order_by("-pk").first()
        if newest.status != Job.Status.SUCCEEDED:
            lines.append(
                f"newest job #{newest.pk} {newest.kind} {newest.status}"
                f" ({newest.waiting_reason}): {newest.error}"
            )
        return lines

    def jobs(self):
        return Job.objects.filter(identity_id=self.identity_id).exclude(status=Job.Status.SCHEDULED)

    def report(self, lines: list[str]) -> None:
        if lines:
            history = "\n".join(f"    {n}. {line}" for n, line in enumerate(self.log, 1))
            jobs = self.jobs().order_by("pk")
            summary = ", ".join(f"#{j.pk} {j.kind} {j.status}" for j in jobs)
            self.reports.append(f"  {'; '.join(lines)}\n    jobs: {summary}\n{history}")


def run_machine(machine: type[PersonMachine], server, monkeypatch, examples: int) -> None:
    """Runs `examples` sequences of twelve steps; fails with each one that ended otherwise
    than asked, and its history."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    monkeypatch.setattr(executor, "MAX_PLAN_ATTEMPTS", 1000)  # failing runs are the test's
    bound = type(
        "Machine", (machine,), {"server": server, "monkeypatch": monkeypatch, "reports": []}
    )
    run_state_machine_as_test(
        bound, settings=settings(RUNS, max_examples=examples, stateful_step_count=12)
    )
    if bound.reports:
        pytest.fail("Ended otherwise than asked:\n" + "\n\n".join(bound.reports), pytrace=False)
