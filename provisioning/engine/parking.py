"""A job that must come back later: when (back-off) and how long its lease lasts meanwhile.
Throttling and transient failures never sleep in the worker: the job is parked WAITING and
its task is retried after `retry_in` seconds."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from provisioning.models import Identity, Job

BACKOFF_CAP_S = 60.0
# A task may be delivered a little before its countdown; within this it counts as due.
EARLY_SLACK_S = 0.25


@dataclass(frozen=True)
class Outcome:
    retry_in: float | None = None  # schedule the job again after this many seconds
    then: int | None = None  # a job of the same person to start now
    # Waiting its turn: no task of its own after `retry_in`, its tenant's line timer
    # (engine/admission.py) stands for it; the tenant's id.
    in_line_of: int | None = None


class LeaseLost(Exception):  # noqa: N818 - a condition of the run, not a failure of the job
    """Another run has claimed the job since this one did (this run's lease ran out while it
    was slow, or its worker was frozen): this run stops at once, sending and writing nothing
    more. Whatever it left half-done, the run that holds the job reads and finishes."""


def held(job: Job) -> Q:
    """The job, as long as no run has claimed it since `job` was claimed: each claim counts
    a run (`Job.runs`), so the count the run was claimed with is its fencing token."""
    return held_as(job.pk, job.runs)


def held_as(job_id: int, runs: int) -> Q:
    """`held` of the job `job_id` claimed with `runs`."""
    return Q(pk=job_id, runs=runs)


def hold_until_commit(job: Job) -> None:
    """Inside a transaction, before its writes: the job's row locked while this run still
    holds it, else LeaseLost. A claim waits until the transaction ends, so the run that takes
    over reads what it wrote. The person's row first, as a claim locks it before the job's
    (and a job's end does): the same order, so neither waits for the other in a cycle (the
    writes that follow check their references to the person)."""
    Identity.objects.select_for_update().filter(pk=job.identity_id).exists()
    if not Job.objects.select_for_update(no_key=True).filter(held(job)).exists():
        raise LeaseLost


def lease_seconds() -> int:
    return getattr(settings, "JOB_LEASE_SECONDS", 120)


def backoff(attempt: int) -> float:
    """Exponential back-off with jitter: about 1, 2, 4, 8 ... seconds, at most a minute."""
    return min(BACKOFF_CAP_S, 2 ** max(0, attempt - 1)) * random.uniform(0.7, 1.3)


def wait(job: Job, reason: str, retry_in: float | None) -> Outcome:
    """Park the job: WAITING until `retry_in` (or until someone re-enqueues it). Its options
    as the run left them: the tokens it reserved, and those it spent (engine/admission.py)."""
    now = timezone.now()
    parked = Job.objects.filter(held(job)).update(
        status=Job.Status.WAITING,
        waiting_reason=reason[:300],
        lease_until=now + timedelta(seconds=(retry_in or 0) + lease_seconds()),
        resume_at=now + timedelta(seconds=retry_in) if retry_in else None,
        options=job.options,
    )
    if not parked:
        raise LeaseLost
    return Outcome(retry_in=retry_in)


def due(latest) -> Q:
    """Jobs a task may run now: any but a WAITING one whose come-back time is still ahead
    (that task is an earlier park's, or a wake-up meant for someone else). `latest`: the
    latest come-back time that is due now, `due_by(now)`."""
    return ~Q(status=Job.Status.WAITING, resume_at__gt=latest)


def due_by(now):
    """The latest come-back time due at `now` (a task may come a little early)."""
    return now + timedelta(seconds=EARLY_SLACK_S)


def ended_or_parked(status: str, resume_at, now) -> bool:
    """The job, as a row read at `now` shows it: ended, or WAITING until later (`due`)."""
    if status in Job.DONE:
        return True
    return status == Job.Status.WAITING and resume_at is not None and resume_at > due_by(now)


def make_due(job_id: int) -> bool:
    """Bring a WAITING job's come-back time forward to now (someone enqueues it now)."""
    return bool(Job.objects.filter(pk=job_id, status=Job.Status.WAITING).update(resume_at=None))
