"""What happened, kept once for everyone who hears of it: outbound webhooks deliver it, alert
e-mails mention it, a daily digest reads a day of them."""

import uuid

from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class Event(models.Model):
    class Kind(models.TextChoices):
        JOB_SUCCEEDED = "job.succeeded", "A job succeeded"
        JOB_FAILED = "job.failed", "A job failed"
        JOB_PARTIAL = "job.partial", "A job partially failed"
        CONNECTION_QUARANTINED = "connection.quarantined", "A connection was quarantined"
        CONNECTION_RELEASED = "connection.released", "A connection was released"
        CREDENTIAL_EXPIRING = "credential.expiring", "A connection's credential expires soon"
        DRIFT_DETECTED = "drift.detected", "Drift was detected in a directory"
        ACCESS_REQUEST_FILED = "access_request.filed", "An access request was filed"
        ACCESS_REQUEST_APPROVED = "access_request.approved", "An access request was approved"
        ACCESS_REQUEST_DENIED = "access_request.denied", "An access request was denied"
        ACCESS_REQUEST_GRANTED = "access_request.granted", "Requested access was granted"
        ACCESS_REQUEST_FAILED = "access_request.failed", "Requested access could not be granted"
        ACCESS_REQUEST_EXPIRED = "access_request.expired", "An access request or grant expired"

    # Sent to receivers as the event id (and the signature's id), so a receiver that gets a
    # delivery twice can tell.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40, choices=Kind.choices, db_index=True)
    # Indexed by the (tenant, occurred_at) index below.
    tenant = models.ForeignKey(
        Tenant,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="events",
        db_index=False,
    )
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    # What the receiver reads: ids, names, statuses and the portal link; never a secret.
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["tenant", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.kind} at {self.occurred_at:%Y-%m-%d %H:%M}"
