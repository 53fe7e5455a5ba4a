"""The database backend of the rate limiter and the quarantine window (used without Redis)."""

from django.db import models

from tenants.models import DirectoryConnection


class ConnectionBucket(models.Model):
    """One connection's token bucket, 429 pause and recent call outcomes, shared by every
    worker process through row locks (provisioning/throttle.py, provisioning/quarantine.py)."""

    connection = models.OneToOneField(
        DirectoryConnection, on_delete=models.CASCADE, related_name="throttle_bucket"
    )
    tokens = models.FloatField()
    # When `tokens` was counted: refill is worked out from here. After a 429 this lies in the
    # future (the end of the pause), so the bucket refills only once the pause is over.
    updated_at = models.DateTimeField()
    paused_until = models.DateTimeField(null=True, blank=True)
    # While set and in the future, jobs wait their turn to be admitted: a job new to the
    # connection gets no tokens ahead of them (provisioning/engine/admission.py).
    line_until = models.DateTimeField(null=True, blank=True)
    # Newest first: "0" for a success, "1:<reason>" for a failure (provisioning/quarantine.py).
    outcomes = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"Bucket of connection {self.connection_id}: {self.tokens:.2f} tokens"


class ConnectionBreaker(models.Model):
    """The quarantine's circuit breaker beyond the open flag (`DirectoryConnection.quarantined_at`):
    whether a person holds it, and what the probes found (provisioning/quarantine.py)."""

    connection = models.OneToOneField(
        DirectoryConnection, on_delete=models.CASCADE, related_name="breaker"
    )
    # An MSP admin's hold: no probe releases it, only a person.
    held = models.BooleanField(default=False)
    # Failed probes since it opened: each one lengthens the cool-down (capped).
    probe_failures = models.PositiveIntegerField(default=0)
    # The half-open claim: while set and in the future, one probe is under way.
    probing_until = models.DateTimeField(null=True, blank=True)
    last_probe_at = models.DateTimeField(null=True, blank=True)
    last_probe_ok = models.BooleanField(null=True, blank=True)
    last_probe_message = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"Breaker of connection {self.connection_id}"
