"""Who wants which alert e-mails, what was sent to whom, and which credential-expiry
warnings were emitted (so each is sent once)."""

from django.conf import settings
from django.db import models

from provisioning.events.models import Event
from tenants.models import DirectoryConnection


class Delivery(models.TextChoices):
    IMMEDIATE = "immediate", "At once, one e-mail per alert"
    DIGEST = "digest", "Once a day, one e-mail listing the day's alerts"


class AlertPreference(models.Model):
    """A person's choice; without a row, the defaults of their role apply (rules.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preference"
    )
    job_failures = models.BooleanField("a job failed or partly failed", default=False)
    connection_changes = models.BooleanField(
        "a connection was quarantined or released", default=False
    )
    credential_expiry = models.BooleanField("a connection's credential expires soon", default=False)
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    # The end of the last digest's window: the next one lists what happened after it.
    digest_sent_until = models.DateTimeField(null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Alerts of {self.user}"


class AlertSent(models.Model):
    """One event told to one person (at once or in a digest): never twice."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="alerts_sent")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="one_alert_per_event_person")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} to user {self.user_id} ({self.delivery})"


class CredentialWarning(models.Model):
    """`credential.expiring` emitted for this connection's credential ending on this day at
    this threshold (30, 7, 1 days; 0: expired). A new end date starts the thresholds again."""

    connection = models.ForeignKey(
        DirectoryConnection, on_delete=models.CASCADE, related_name="credential_warnings"
    )
    expires_on = models.DateField()
    threshold_days = models.SmallIntegerField()
    emitted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "expires_on", "threshold_days"],
                name="one_credential_warning_per_threshold",
            )
        ]

    def __str__(self) -> str:
        return f"{self.connection_id}: ends {self.expires_on}, {self.threshold_days} days"
