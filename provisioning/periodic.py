"""Periodic reconciliation: every managed person is read and compared again at an interval
(RECONCILE_INTERVAL_SECONDS, spread over the beat's ticks), and at once after a connection is
released; what changed behind the portal's back is converged and recorded as drift."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from provisioning.jobs import ask
from provisioning.models import Identity, Job

CHECKED = (
    Identity.Status.JOINER,
    Identity.Status.ACTIVE,
    Identity.Status.LEAVER,
    Identity.Status.LEFT,
)
UNFINISHED = (
    Job.Status.QUEUED,
    Job.Status.RUNNING,
    Job.Status.WAITING,
    Job.Status.HELD,
    Job.Status.NEEDS_CHOICE,  # a check would stop on the same question
)


def interval() -> timedelta:
    return timedelta(seconds=getattr(settings, "RECONCILE_INTERVAL_SECONDS", 12 * 3600))


def tick() -> timedelta:
    return timedelta(seconds=getattr(settings, "RECONCILE_TICK_SECONDS", 60))


def reconcile_due_people(now: datetime | None = None) -> int:
    """Queue a Reconcile job for this tick's share of the people not checked within the
    interval (those never checked first); how many were queued."""
    now = now or timezone.now()
    people = Identity.objects.filter(status__in=CHECKED, tenant__connections__isnull=False)
    total = people.distinct().count()
    share = max(1, math.ceil(total * tick() / interval()))
    busy = Job.objects.filter(identity=OuterRef("pk"), status__in=UNFINISHED)
    due = (
        people.filter(
            Q(last_reconciled_at__isnull=True) | Q(last_reconciled_at__lt=now - interval())
        )
        .exclude(Exists(busy))
        .distinct()
        .order_by(F("last_reconciled_at").asc(nulls_first=True), "pk")
    )
    queued = 0
    for identity in due.select_related("tenant")[:share]:
        with transaction.atomic():
            job = Job.objects.create(
                tenant=identity.tenant, identity=identity, kind=Job.Kind.RECONCILE
            )
            ask(job, changed=False)
            Identity.objects.filter(pk=identity.pk).update(last_reconciled_at=now)
        queued += 1
    return queued
