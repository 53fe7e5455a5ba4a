"""Where events are sent (WebhookEndpoint) and what became of each sending (Delivery)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from provisioning.events.models import Event
from tenants import crypto
from tenants.models import Tenant

# A delivery that is not an event: the "send a test" button. Kept out of Event.Kind, so
# nothing that reads events (alert e-mails, the digest) ever sees it.
TEST_KIND = "webhook.test"
ERROR_CHARS = 300


class WebhookEndpoint(models.Model):
    # Null: the MSP's own endpoint, which hears every tenant's events.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="webhook_endpoints"
    )
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    kinds = models.JSONField(default=list)  # Event.Kind values this endpoint hears
    secret_ciphertext = models.TextField(editable=False)
    secret_set_at = models.DateTimeField(default=timezone.now)
    # After a rotation the old secret still signs (a second signature) until this time, so a
    # receiver can switch over without losing deliveries.
    previous_secret_ciphertext = models.TextField(blank=True, editable=False)
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_msp_wide(self) -> bool:
        return self.tenant_id is None

    @property
    def is_sending(self) -> bool:
        return self.active and self.disabled_at is None

    def set_secret(self, plaintext: str) -> None:
        self.secret_ciphertext = crypto.encrypt(plaintext)
        self.secret_set_at = timezone.now()

    def secrets(self) -> list[str]:
        """The secrets that sign now: the current one, and the previous one in its grace."""
        current = [crypto.decrypt(self.secret_ciphertext)]
        grace = self.previous_secret_until and self.previous_secret_until > timezone.now()
        if grace and self.previous_secret_ciphertext:
            current.append(crypto.decrypt(self.previous_secret_ciphertext))
        return current

    def hears(self, event: Event) -> bool:
        if event.kind not in self.kinds:
            return False
        return self.tenant_id is None or self.tenant_id == event.tenant_id


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        FAILED = "failed", "Failed, will retry"
        DELIVERED = "delivered", "Delivered"
        GIVEN_UP = "given_up", "Given up"

    DUE = (Status.PENDING, Status.FAILED)

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    kind = models.CharField(max_length=40)  # the event's kind, or TEST_KIND
    # The webhook-id header: the event's id (a redelivery keeps it, so receivers dedupe).
    message_id = models.UUIDField(default=uuid.uuid4)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The claim: a task that set it owns the attempt until then (a dead worker frees it).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=ERROR_CHARS, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_recent_idx"),
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.endpoint} ({self.status})"
