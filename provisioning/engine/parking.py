"""A job that must come back later: when (back-off) and how long its lease lasts meanwhile.
Throttling and transient failures never sleep in the worker: the job is parked WAITING and
its task is retried after `retry_in` seconds."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provisioning.models import Job

BACKOFF_CAP_S = 60.0


@dataclass(frozen=True)
class Outcome:
    retry_in: float | None = None  # schedule the job again after this many seconds
    then: int | None = None  # a job of the same person to start now


def lease_seconds() -> int:
    return getattr(settings, "JOB_LEASE_SECONDS", 120)


def backoff(attempt: int) -> float:
    """Exponential back-off with jitter: about 1, 2, 4, 8 ... seconds, at most a minute."""
    return min(BACKOFF_CAP_S, 2 ** max(0, attempt - 1)) * random.uniform(0.7, 1.3)


def wait(job: Job, reason: str, retry_in: float | None) -> Outcome:
    """Park the job: WAITING until `retry_in` (or until someone re-enqueues it). Its options
    as the run left them: the tokens it reserved, and those it spent (engine/admission.py)."""
    until = timezone.now() + timedelta(seconds=(retry_in or 0) + lease_seconds())
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.WAITING,
        waiting_reason=reason[:300],
        lease_until=until,
        options=job.options,
    )
    return Outcome(retry_in=retry_in)
