"""Batches: many jobs started together (a CSV upload, a day's scheduled leavers, a burst of
HR events). A batch that would offboard too many people is held for an MSP admin."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Tenant


class Batch(models.Model):
    class Kind(models.TextChoices):
        CSV_ONBOARD = "csv_onboard", "CSV onboarding"
        CSV_OFFBOARD = "csv_offboard", "CSV offboarding"
        SCHEDULE = "schedule", "Scheduled leavers"
        WEBHOOK = "webhook", "HR webhook"
        SCIM = "scim", "SCIM provisioning"
        API = "api", "REST API"
        PAGE = "page", "Person pages"
        TEMPLATE = "template", "Role template change"

    class Status(models.TextChoices):
        VALIDATED = "validated", "Validated (not started)"
        HELD = "held", "Needs confirmation"
        STARTED = "started", "Started"
        CANCELLED = "cancelled", "Cancelled"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="batches")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALIDATED)
    filename = models.CharField(max_length=255, blank=True)
    hold_reason = models.CharField(max_length=300, blank=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_valid = models.PositiveIntegerField(default=0)
    options = models.JSONField(default=dict, blank=True)  # e.g. offboarding options of the run
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class BatchRow(models.Model):
    """One line of an uploaded CSV: what it said, what was wrong with it, what it started."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField()
    data = models.JSONField(default=dict)
    errors = models.JSONField(default=list, blank=True)
    identity = models.ForeignKey(
        "provisioning.Identity", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["batch", "line"]
        constraints = [models.UniqueConstraint(fields=["batch", "line"], name="unique_batch_line")]

    def __str__(self) -> str:
        return f"line {self.line} of {self.batch}"

    @property
    def is_valid(self) -> bool:
        return not self.errors
