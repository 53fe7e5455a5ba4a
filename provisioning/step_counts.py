"""A job's steps done and failed, as every page that shows a job reads them.

`Job.steps_done` and `steps_failed` are written when a job ends (`executor.end`): while a
job runs, its figures are counted from its steps as the end counts them (a skipped step as
failed), in one aggregate for however many running jobs a page lists."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Q

from provisioning.models import Job, Step

DONE = Q(status=Step.Status.SUCCEEDED)
FAILED = Q(status__in=[Step.Status.FAILED, Step.Status.SKIPPED])


def read_so_far(jobs: Iterable[Job]) -> list[Job]:
    """`jobs` as a list, each not yet done given its counts so far (one query, none when
    every job is done: a done job's stored counts stand, its steps may span earlier rounds)."""
    jobs = list(jobs)
    running = {job.pk: job for job in jobs if not job.is_done and job.steps_total}
    if not running:
        return jobs
    for job in running.values():
        job.steps_done = job.steps_failed = 0
    counts = (
        Step.objects.filter(job_id__in=running)
        .values("job_id")
        .annotate(done=Count("pk", filter=DONE), failed=Count("pk", filter=FAILED))
        .order_by()
    )
    for row in counts:
        job = running[row["job_id"]]
        job.steps_done, job.steps_failed = row["done"], row["failed"]
    return jobs
