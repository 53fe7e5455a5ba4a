"""Events are kept for a while, then dropped with their deliveries and alert records: they
tell receivers what happened, and a receiver has long had them by then; the audit trail,
not this table, is the record of what was done."""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from provisioning.events.models import Event


def forget_old_events(now: datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - timedelta(days=settings.EVENT_RETENTION_DAYS)
    deleted = 0
    while True:  # in slices: one delete of a year of events would hold its locks too long
        batch = list(
            Event.objects.filter(occurred_at__lt=cutoff).values_list("pk", flat=True)[:1000]
        )
        if not batch:
            return deleted
        Event.objects.filter(pk__in=batch).delete()
        deleted += len(batch)
