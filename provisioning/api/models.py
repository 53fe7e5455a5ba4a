"""API tokens (one staff member's, scoped no wider than them) and the responses kept for
`Idempotency-Key` replays."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants import access
from tenants.models import Tenant


class ApiToken(models.Model):
    """A bearer token of one person; only its SHA-256 is kept (it is shown once)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16)  # the first characters, to recognise it by
    token_sha256 = models.CharField(max_length=64, unique=True)
    read_only = models.BooleanField(default=False)
    # Empty: every tenant the person may see, now and later. Otherwise only these (and only
    # while the person may still see them).
    tenants = models.ManyToManyField(Tenant, blank=True, related_name="+")
    # Made for every tenant (no tenant ticked). A token made for some tenants reaches none of
    # the others even when those rows are gone (a tenant deleted): its list empties, it does
    # not widen to every tenant.
    every_tenant = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The one-time key of the page's form that made it: that form sent again (a reload of the
    # page that showed the token, a double click) makes no second token.
    form_key = models.CharField(max_length=43, unique=True, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now

    @property
    def holder_stands(self) -> bool:
        """Whether its person may still use it (active, with a role): refused otherwise."""
        return access.stands_behind(self.user)


class IdempotentResponse(models.Model):
    """The first answer to a POST with an `Idempotency-Key`, replayed to a retry of it."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # What the key was first used for: the same key on another request is refused.
    request_fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["token", "key"], name="api_idempotency_key_once")
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.status}"
