"""One job at a time per person, across processes and hosts, and what a verified job settles.

A job is claimed under a row lock of its person: it runs only when no other job of theirs
holds a live lease and no older one is unfinished. Whatever changed meanwhile is in the
desired state the running job reads again before it can succeed, so the jobs queued behind
it (asked for before that read) are settled by its verification: requests coalesce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection as db
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal import kept_sql
from portal.audit.events import event_for, guess_head
from portal.audit.models import AuditEvent
from provisioning.engine import claim_read, desired, memo, outcomes
from provisioning.engine.parking import due, due_by, ended_or_parked
from provisioning.models import Job

UNFINISHED = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)
# A leave's password reset and session revocation are actions, not state: never coalesced.
OWN_WORK = (Job.Kind.LEAVE, Job.Kind.RETRY)


def claim(job_id: int, lease_seconds: int) -> tuple[Job | None, int | None]:
    """(the job, RUNNING under a lease) or (None, an older job of the person to start:
    queued, or waiting).
    (None, None) as well when the job is done, running elsewhere, or parked until later.
    The job is read with its tenant, person and requester, and the tenant's configuration
    version (memo.across_runs); on PostgreSQL the person's template ids, live grants and
    accounts too, and the look at the jobs ahead, the claiming UPDATE and those reads are
    one statement after the person's lock (claim_read.py)."""
    now = timezone.now()
    ask = Claim(job_id, now, now + timedelta(seconds=lease_seconds), due_by(now))
    with transaction.atomic():
        # Locked, when it has one; with the job as the statement's snapshot saw it, which
        # may predate the lock's wait. A job it shows ended or parked until later is not
        # claimed: nothing that holds the person's lock makes a job due again, and what does
        # (a retry, a wake-up: make_due, admission.reserve_for) sends it again once
        # committed. A job running elsewhere is left to the claim (it may park meanwhile).
        identity_id, tenant_id, status, resume_at = claim_read.lock_person(job_id)
        if status is not None and ended_or_parked(status, resume_at, now):
            return None, None
        if db.vendor == "postgresql":
            claimed = claim_read.claim(ask, identity_id, tenant_id, claiming)
            blocker, job = claimed.ahead, claimed.job
        else:
            claimable, ahead, values = claiming(ask, identity_id)
            blocker = None if ahead is None else ahead.values_list("pk", "status", "kind").first()
            job = None
            if blocker is None and claimable.update(**values):
                related = ("tenant", "identity", "requested_by", *memo.tenant_relations())
                job = Job.objects.select_related(*related).get(pk=job_id)
                if job.identity is not None:  # their templates' ids, for the kept rows
                    templates = list(desired.person_templates(job.identity_id))
                    memo.keep(
                        ("template_ids", job.identity_id, job.identity.desired_version), templates
                    )
        if blocker is not None:
            pk, status, kind = blocker
            Job.objects.filter(pk=job_id, status=Job.Status.QUEUED).update(
                waiting_reason=f"After {Job.Kind(kind).label} #{pk}"
            )
            # Sent whether queued or waiting: a waiting one parked until later drops the
            # task at its claim; one waiting for a quarantine's release (no come-back time)
            # runs, and reads a person now leaving, whose access goes where it can be read
            # (executor.plan_job): else it held their leave until the release (converge26).
            return None, (pk if status in (Job.Status.QUEUED, Job.Status.WAITING) else None)
    if job is None:
        return None, None
    memo.keep_tenant_rows(job.tenant)  # the features' settings read with it (memo.py)
    memo.config_read_with(job.tenant)
    if db.vendor == "postgresql":
        for key, value in claimed.person_reads.items():
            memo.keep(key, value)
        guess_head(tenant_id, *claimed.head)  # the run's first append: one statement
    return job, None


@dataclass(frozen=True)
class Claim:
    """What a claim depends on besides the person: each a value of its statement."""

    job_id: int
    now: datetime
    lease_until: datetime
    due_by: datetime  # the latest come-back time due now (parking.due_by)


def claiming(ask: Claim, identity_id: int | None) -> tuple[QuerySet, QuerySet | None, dict]:
    """The job when it may be claimed, the jobs ahead of it (ordered; None without a
    person), and what the claim sets: built from `ask`'s values alone, so that the
    PostgreSQL statement made of them can be kept (claim_read.py)."""
    values = {
        "status": Job.Status.RUNNING,
        "lease_until": ask.lease_until,
        "resume_at": None,
        "runs": F("runs") + 1,
        "started_at": Coalesce("started_at", Value(ask.now)),
        "waiting_reason": "",
    }
    claimable = Job.objects.filter(
        Q(status__in=[Job.Status.QUEUED, Job.Status.WAITING])
        | Q(status=Job.Status.RUNNING, lease_until__lt=ask.now),
        due(ask.due_by),
        pk=ask.job_id,
    )
    ahead = None if identity_id is None else _ahead_of(ask.job_id, identity_id, ask.now)
    return claimable, ahead, values


def _ahead_of(job_id: int, identity_id: int, now):
    """The jobs of the same person that hold them (a live lease), then those older and
    unfinished, in that order: the first is the one ahead. Of it, the claim reads the three
    columns it needs (a whole job row is twenty-odd columns to convert)."""
    holds = Q(status=Job.Status.RUNNING, lease_until__gte=now)
    others = Job.objects.filter(holds | Q(pk__lt=job_id), identity_id=identity_id)
    others = others.filter(status__in=UNFINISHED).exclude(pk=job_id)
    return others.order_by(Case(When(holds, then=0), default=1), "pk")


def next_job(job: Job) -> int | None:
    """The person's oldest unfinished job, to start once `job` has ended: as `ended` found
    it, when this run ended the job."""
    if (kept := memo.take(("next_job", job.pk))) is not None:
        return kept[0]
    if job.identity_id is None:
        return None
    pending = Job.objects.filter(
        identity_id=job.identity_id, status__in=[Job.Status.QUEUED, Job.Status.WAITING]
    )
    return pending.order_by("pk").values_list("pk", flat=True).first()


def ended(job: Job) -> list[AuditEvent]:
    """Inside the transaction that ends `job`, its person locked: the person's jobs queued
    behind it read once, those a verified `job` settles settled, and the oldest of the rest
    kept for `next_job`. Read before the commit, the next job is the one after it: a job
    asked for later is claimed by its own task, which waits for the person's lock held here
    and then finds this job ended. The settled jobs' `job.finish` events, for the caller to
    append with `job`'s own in the same transaction: one append of the chain, not one each."""
    if job.identity_id is None:
        return []
    rest = kept_sql.instances("ended: the jobs behind", _behind, job.identity_id, job.pk)
    events = []
    if job.status == Job.Status.SUCCEEDED:
        rest, events = converged(job, rest)
    memo.keep(("next_job", job.pk), (rest[0].pk if rest else None,))
    return events


def _behind(identity_id: int, job_id: int):
    """The person's queued and waiting jobs but `job_id`, locked, oldest first."""
    return (
        Job.objects.select_for_update()
        .filter(identity_id=identity_id, status__in=[Job.Status.QUEUED, Job.Status.WAITING])
        .exclude(pk=job_id)
        .order_by("pk")
    )


def converged(job: Job, behind: list[Job]) -> tuple[list[Job], list[AuditEvent]]:
    """`job` verified: their queued jobs (of `behind`) asked for no later state than it
    verified are settled by it. The jobs it did not settle, and the `job.finish` events of
    those it did, to append. (The person is reconciled: the job's end saves the time with
    the person, `outcomes.person_changes`.)"""
    rest, events = [], []
    for other in behind:
        if _settled_by(other, job):
            events.append(_settle(other, job))
        else:
            rest.append(other)
    return rest, events


def _settled_by(other: Job, job: Job) -> bool:
    return (
        other.status == Job.Status.QUEUED
        and not other.planned
        and job.converged_version is not None
        and other.desired_version <= job.converged_version
        and other.kind not in OWN_WORK
    )


def _settle(other: Job, by: Job) -> AuditEvent:
    now = timezone.now()
    # The same person (and tenant), as the engine read them under the lock.
    other.identity, other.tenant = by.identity, by.tenant
    other.status, other.converged_version = Job.Status.SUCCEEDED, by.converged_version
    other.verification = {**by.verification, "by_job": by.pk}
    other.started_at, other.finished_at = other.started_at or now, now
    other.save(
        update_fields=["status", "converged_version", "verification", "started_at", "finished_at"]
    )
    changed_before, changed_after = outcomes.job_finished(other, Job.Status.SUCCEEDED)
    return event_for(
        "job.finish",
        actor="system",
        tenant=other.tenant,
        target=other.identity,
        before=changed_before or None,
        after={
            "status": other.status,
            "desired_version": by.converged_version,
            "verified_by_job": by.pk,
            **changed_after,
        },
        job_id=other.pk,
    )
