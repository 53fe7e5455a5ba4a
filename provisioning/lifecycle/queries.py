"""Read-only look-ups of the lifecycle pages: the schedule, held batches, a person's lifecycle.
Nothing here changes anything; changes go through provisioning/lifecycle/services.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet
from django.shortcuts import get_object_or_404

from provisioning.engine.offboarding import removed_by_job
from provisioning.lifecycle import leave_retries
from provisioning.models import Batch, Identity, Job, Step
from provisioning.queries import holds
from tenants import access
from tenants.models import DirectoryConnection, Tenant

SCHEDULE_LIMIT = 500
KINDS = (("groups", "Groups"), ("licenses", "Licences"), ("apps", "Apps"))
PENDING = (Job.Status.SCHEDULED, Job.Status.HELD)
IN_FLIGHT = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)


def what_it_does(job: Job) -> str:
    """A scheduled job in the words of the schedule page."""
    if job.kind == Job.Kind.CHANGE and job.options.get("enable"):
        return "Allow sign-in on the first day (created ahead)"
    if job.kind == Job.Kind.JOIN:
        return "Onboard on the start date"
    if job.kind == Job.Kind.LEAVE:
        return "Offboard"
    if job.kind == Job.Kind.DELETE:
        return "Delete the disabled account"
    if job.kind == Job.Kind.CHANGE:
        return "Change role / attributes"
    return job.get_kind_display()


def get_batch_for(user, tenant_slug: str, batch_id: int, roles: Iterable[str]) -> Batch:
    tenant = access.get_tenant_for(user, tenant_slug, roles)
    return get_object_or_404(Batch, tenant=tenant, pk=batch_id)


def upcoming_jobs(tenants: QuerySet[Tenant] | list[Tenant]) -> list[Job]:
    """Scheduled jobs, and held ones outside a batch, soonest first."""
    jobs = (
        Job.objects.filter(tenant__in=tenants)
        .filter(Q(status=Job.Status.SCHEDULED) | Q(status=Job.Status.HELD, batch__isnull=True))
        .select_related("tenant", "identity", "requested_by")
        .order_by(F("not_before").asc(nulls_last=True), "pk")[:SCHEDULE_LIMIT]
    )
    jobs = list(jobs)
    for job in jobs:
        job.what = what_it_does(job)
    return jobs


def held_batches(tenants: QuerySet[Tenant] | list[Tenant]) -> QuerySet[Batch]:
    return (
        Batch.objects.filter(tenant__in=tenants, status=Batch.Status.HELD)
        .select_related("tenant", "created_by")
        .annotate(held_jobs=Count("jobs", filter=Q(jobs__status=Job.Status.HELD)))
        .order_by("created_at", "pk")
    )


@dataclass
class Lifecycle:
    """Where a person stands: what is pending, running, and what their offboarding removed."""

    identity: Identity
    pending: list[Job] = field(default_factory=list)
    in_flight_leave: Job | None = None
    leave_job: Job | None = None
    removed: dict[str, list[str]] = field(default_factory=dict)
    # Per directory (label, then names by kind), and when a read found it so: the proof.
    removed_in: list[dict] = field(default_factory=list)
    read_back_at: datetime | None = None
    # The steps of a leave that failed or partly failed: what the person still holds.
    still_held: list[Step] = field(default_factory=list)

    @property
    def leave_unfinished(self) -> bool:
        unfinished = (Job.Status.FAILED, Job.Status.PARTIAL)
        return self.leave_job is not None and self.leave_job.status in unfinished

    @property
    def auto_retry(self) -> leave_retries.AutoRetry | None:
        """When the periodic check retries the unfinished leave by itself, if it does."""
        return leave_retries.state_of(self.leave_job) if self.leave_unfinished else None

    @property
    def has_left(self) -> bool:
        return self.identity.status in (Identity.Status.LEFT, Identity.Status.DELETED)

    @property
    def can_offboard(self) -> bool:
        return not self.has_left and self.in_flight_leave is None

    @property
    def can_change(self) -> bool:
        return not self.has_left


def lifecycle_of(identity: Identity) -> Lifecycle:
    jobs = identity.jobs.all()
    result = Lifecycle(identity)
    result.pending = list(
        jobs.filter(status__in=PENDING)
        .select_related("batch")
        .order_by(F("not_before").asc(nulls_last=True), "pk")
    )
    for job in result.pending:
        job.what = what_it_does(job)
    result.in_flight_leave = (
        jobs.filter(kind=Job.Kind.LEAVE, status__in=IN_FLIGHT).order_by("-pk").first()
    )
    result.leave_job = (
        jobs.filter(kind=Job.Kind.LEAVE, status__in=Job.DONE)
        .exclude(status=Job.Status.CANCELLED)
        .select_related("requested_by", "batch__confirmed_by")
        .order_by("-pk")
        .first()
    )
    if result.leave_job:
        result.removed = removed_by(result.leave_job)
        result.removed_in = removed_per_directory(result.leave_job)
        read_at = (result.leave_job.verification or {}).get("read_at")
        result.read_back_at = datetime.fromisoformat(read_at) if read_at else None
    if result.leave_unfinished:
        result.still_held = list(
            result.leave_job.steps.exclude(status=Step.Status.SUCCEEDED)
            .select_related("connection")
            .order_by("order")
        )
    return result


def removed_per_directory(leave_job: Job) -> list[dict]:
    """What the offboarding removed, by directory: `cells`, the names of its groups, licences
    and apps, each under its heading."""
    records = removed_by_job(leave_job)
    connections = DirectoryConnection.objects.filter(pk__in=records).order_by("pk")
    return [
        {
            "directory": connection.label,
            "cells": [
                (label, [r["name"] for r in getattr(records[connection.pk], kind)])
                for kind, label in KINDS
                if kind == "groups" or kind in holds(connection)  # a SCIM app: groups only
            ],
        }
        for connection in connections
    ]


def removed_by(leave_job: Job) -> dict[str, list[str]]:
    """What the offboarding succeeded in removing (what a restore puts back), by kind, from
    the engine's own record of it (incl. the apps an Okta deactivation dropped)."""
    removed: dict[str, list[str]] = {
        "groups": [],
        "licenses": [],
        "apps": [],
        "roles": [],  # admin roles and units: shown, not given back (engine/offboarding.py)
        "admin_units": [],
    }
    for record in removed_by_job(leave_job).values():
        for kind, names in removed.items():
            for ref in getattr(record, kind):
                if ref["name"] not in names:
                    names.append(ref["name"])
    return removed
