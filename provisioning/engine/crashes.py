"""A run that raised what no rule of the engine expects: a fault of the portal's or of a
library's, not of a directory (those are ConnectorErrors, with their own rules). Without a
limit such a job would stay running, sent again after each lease, and hold the person's later
jobs (an offboarding among them) for ever. It comes back a few times, later each time (the
fault may pass: a deployment, a read that changes), then fails with the error, and the
person's next job starts. A worker killed mid-run raises nothing here and is not counted."""

from __future__ import annotations

import logging

from provisioning.engine.parking import LeaseLost, Outcome, wait
from provisioning.models import Job

logger = logging.getLogger(__name__)

CRASHES = "crashes"  # job.options: runs that stopped on an unexpected error
MAX_CRASHES = 3
FIRST_RETRY_S = 30.0  # then 4 times longer each time
FAULT = "A fault in the portal, in its log for the operators: retry the job once it is fixed."


PACING_AWAY_S = 15.0  # a job whose rate bucket's Redis did not answer comes back after this


def pacing_away(job: Job, exc: Exception) -> Outcome:
    """The rate buckets' Redis did not answer (`throttle.Unavailable`): the portal's own
    infrastructure away, as a database that does not answer is, not a fault of its code.
    Parked to come back, counted toward nothing: however long Redis is away, the job ends
    as the directories read back once it answers again. Its options as the database holds
    them (what the run reserved in memory may never have reached the bucket)."""
    logger.warning("Job %s waits for the rate limiter: %s", job.pk, exc)
    job.options = _options_as_stored(job)
    try:
        return wait(job, f"Waiting for the rate limiter (Redis) to answer: {exc}", PACING_AWAY_S)
    except LeaseLost:
        return Outcome()  # another run holds the job now: it decides


def after(job: Job, exc: Exception, fail) -> Outcome:
    """Counted on the job (its options as the database holds them: what the run changed in
    memory is not kept), then parked to come back, or failed through `fail(job, reason)`."""
    logger.exception("Job %s stopped on an unexpected error", job.pk)
    kept = _options_as_stored(job)
    count = kept.get(CRASHES, 0) + 1
    job.options = {**kept, CRASHES: count}
    error = f"{type(exc).__name__}: {exc}"[:500]
    try:
        if count >= MAX_CRASHES:
            fail(job, f"Stopped on an unexpected error {count} times ({error}). {FAULT}")
            return Outcome()
        again = (
            f"Stopped on an unexpected error ({error}); trying again ({count} of {MAX_CRASHES})."
        )
        return wait(job, again, FIRST_RETRY_S * 4 ** (count - 1))
    except LeaseLost:
        return Outcome()  # another run holds the job now: it decides


def _options_as_stored(job: Job) -> dict:
    """The job's options as the database holds them: what the run changed in memory is not
    kept."""
    return Job.objects.filter(pk=job.pk).values_list("options", flat=True).first() or {}
