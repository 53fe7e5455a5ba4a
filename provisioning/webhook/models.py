"""Every request to the HR webhook, accepted or not, for the audit of what HR sent."""

from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class HRWebhookEvent(models.Model):
    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DUPLICATE = "duplicate", "Duplicate (ignored)"
        REJECTED = "rejected", "Rejected"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="hr_events"
    )
    tenant_slug = models.CharField(max_length=60)  # as given in the URL, even when unknown
    received_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=200, blank=True)
    event_type = models.CharField(max_length=20, blank=True)
    employee_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=300, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    body_sha256 = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(outcome="accepted"),
                name="hr_event_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} {self.employee_id} ({self.outcome})"
