"""A failed leave is retried by itself (leftover2).

A leave whose one directory cannot be read writes to the others and then fails, naming it
(`executor._read_failed`). Before, only a technician's *Retry failed steps* reached it again,
so a SCIM app down for an hour kept the leaver's account there until someone noticed. Now
the periodic check (`provisioning.tasks.reconcile_due_people`, every tick) retries the
person's newest leave when it failed or partly failed, as the technician's Retry does
(`services.retry_failed_steps`, audited as `job.retry` by "system", with `automatic`): the
retry's own read is the probe of the directory, so one still down fails it again, and the
next try waits longer.

Bounded: the first try `LEAVE_RETRY_FIRST_SECONDS` after the failure, each next one twice as
long after the last failure, at most `LEAVE_RETRY_MAX_SECONDS`, and no more than
`LEAVE_RETRY_LIMIT` tries (`Job.options["auto_retries"]`); the job page and the dashboard say
when the next one comes, or that none is left.

The last asked wins: decided under the person's lock, as every action on them is, and only
while they are still a leaver, this leave is their newest, and no other job of theirs is
under way or waiting for its time. A restore, or a newer leave, asked before it stops it;
asked after it, it runs after the retried job, which is older (one job at a time per
person), and ends in what it asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from provisioning import services
from provisioning.models import Identity, Job

RETRIED = (Job.Status.FAILED, Job.Status.PARTIAL)
# Another job of the person under way: the retry waits for a later tick.
UNDER_WAY = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING, Job.Status.NEEDS_CHOICE)
PER_TICK = 200


def limit() -> int:
    return getattr(settings, "LEAVE_RETRY_LIMIT", 10)


def delay(done: int) -> timedelta:
    """The wait before the next automatic retry, after `done` of them."""
    first = getattr(settings, "LEAVE_RETRY_FIRST_SECONDS", 300)
    most = getattr(settings, "LEAVE_RETRY_MAX_SECONDS", 6 * 3600)
    return timedelta(seconds=min(first * 2 ** min(done, 20), most))


@dataclass(frozen=True)
class AutoRetry:
    """What the job page and the dashboard say of a failed leave's automatic retries."""

    done: int
    limit: int
    next_at: datetime | None  # None: no automatic retry is left

    @property
    def exhausted(self) -> bool:
        return self.next_at is None


def auto_retries_of(job: Job) -> int:
    return int((job.options or {}).get("auto_retries", 0))


def state_of(job: Job) -> AutoRetry | None:
    """A failed or partly failed leave's automatic retries; None for any other job."""
    if job.kind != Job.Kind.LEAVE or job.status not in RETRIED or job.finished_at is None:
        return None
    if job.identity is None or job.identity.status != Identity.Status.LEAVER:
        return None  # restored, or left by a newer leave: nothing to retry
    done = auto_retries_of(job)
    if done >= limit():
        return AutoRetry(done, limit(), None)
    return AutoRetry(done, limit(), job.finished_at + delay(done))


def retry_due_leaves(now: datetime | None = None) -> int:
    """Retry every failed leave whose time has come (see the module); how many."""
    now = now or timezone.now()
    # Each try ends the job again, so one still being retried ended within the longest wait.
    since = now - delay(limit()) - timedelta(hours=1)
    candidates = (
        Job.objects.filter(
            kind=Job.Kind.LEAVE,
            status__in=RETRIED,
            identity__status=Identity.Status.LEAVER,
            finished_at__gte=since,
        )
        .select_related("identity")
        .order_by("finished_at", "pk")[:PER_TICK]
    )
    due = [job.pk for job in candidates if _due(job, now)]
    return sum(1 for pk in due if _retry(pk, now))


def _due(job: Job, now: datetime) -> bool:
    state = state_of(job)
    return state is not None and state.next_at is not None and state.next_at <= now


def _retry(job_id: int, now: datetime) -> bool:
    with transaction.atomic():
        identity_id = Job.objects.filter(pk=job_id).values_list("identity_id", flat=True)[0]
        identity = Identity.objects.select_for_update().get(pk=identity_id)
        job = Job.objects.select_for_update().get(pk=job_id)
        job.identity = identity
        if not _due(job, now) or not _still_wanted(identity, job):
            return False
        done = auto_retries_of(job) + 1
        job.options = {**job.options, "auto_retries": done}
        job.save(update_fields=["options"])
        automatic = {"automatic": True, "try": done, "of": limit(), "failed": job.error[:300]}
        services.retry_failed_steps(job, actor="system", note=automatic)
    return True


def _still_wanted(identity: Identity, job: Job) -> bool:
    """Under the person's lock: still a leaver, this is their newest leave, and nothing else
    of theirs is asked and not done (a restore, a newer leave, a check running)."""
    if identity.status != Identity.Status.LEAVER:
        return False
    newest = identity.newest_started_job(Job.Kind.LEAVE)
    if newest is None or newest.pk != job.pk:
        return False
    others = identity.jobs.exclude(pk=job.pk)
    newer_leave = Q(kind=Job.Kind.LEAVE, status__in=(Job.Status.SCHEDULED, Job.Status.HELD))
    return not others.filter(Q(status__in=UNDER_WAY) | newer_leave).exists()
