"""What happens when a job ends, registered from above.

The engine knows no feature: lifecycle (the person's new status, the hard delete to come)
and access requests (a grant's end) register a callback here when the app is ready
(`provisioning.apps`), and the executor calls them all inside the transaction that finishes
the job, in the order they were registered."""

from __future__ import annotations

from collections.abc import Callable

from provisioning.models import Job

JobFinished = Callable[[Job, str], None]

_on_finished: list[JobFinished] = []


def on_job_finished(callback: JobFinished) -> JobFinished:
    """Call `callback(job, status)` whenever a job ends (succeeded, partial or failed)."""
    if callback not in _on_finished:
        _on_finished.append(callback)
    return callback


def job_finished(job: Job, status: str) -> None:
    for callback in _on_finished:
        callback(job, status)
