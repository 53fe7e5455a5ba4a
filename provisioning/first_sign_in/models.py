"""A tenant's first sign-in policy, and each first sign-in issued (its secret encrypted until
it is viewed once or expires)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from provisioning.connectors.sign_in import (
    ACTIVATION_LINK,
    DIRECTORY_EMAIL,
    METHOD_NAMES,
    TAP,
    TEMP_PASSWORD,
)
from provisioning.models import Identity, Step
from tenants.models import DirectoryConnection, Tenant

# Graph's bounds of a pass's lifetime; the tenant's own TAP policy may be narrower.
TAP_MINUTES = (10, 43200)
LINK_HOURS = (1, 168)


class FirstSignInPolicy(models.Model):
    class EntraMethod(models.TextChoices):
        NONE = "", "None: the technician hands over the first sign-in"
        TAP = TAP, METHOD_NAMES[TAP]

    class OktaMethod(models.TextChoices):
        NONE = "", "None: the technician hands over the first sign-in"
        ACTIVATION_LINK = ACTIVATION_LINK, "Activation link, through the portal's one-time link"
        TEMP_PASSWORD = TEMP_PASSWORD, "Temporary password, through the portal's one-time link"
        DIRECTORY_EMAIL = DIRECTORY_EMAIL, "Okta's own activation e-mail, to the joiner's address"

    class Recipient(models.TextChoices):
        MANAGER = "manager", "The joiner's manager"
        NAMED = "named", "A named person"

    # Named from the tenant so that a run reads it with the job it claims (memo.tenant_row).
    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="first_sign_in_policy"
    )
    entra_method = models.CharField(max_length=20, blank=True, choices=EntraMethod.choices)
    tap_lifetime_minutes = models.PositiveIntegerField(
        default=480,
        validators=[MinValueValidator(TAP_MINUTES[0]), MaxValueValidator(TAP_MINUTES[1])],
        help_text="Within the tenant's Temporary Access Pass policy (Entra's default: 60-480).",
    )
    tap_usable_once = models.BooleanField(default=True)
    okta_method = models.CharField(max_length=20, blank=True, choices=OktaMethod.choices)
    recipient = models.CharField(max_length=10, choices=Recipient.choices, default="manager")
    named_recipient = models.EmailField(blank=True)
    link_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(LINK_HOURS[0]), MaxValueValidator(LINK_HOURS[1])],
        help_text="How long the one-time link works (never longer than the pass itself).",
    )
    # Since when a method has been chosen: only accounts the portal creates from then on get
    # a first sign-in, never the people it already manages.
    active_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"First sign-in of {self.tenant}"

    def method_for(self, kind: str) -> str:
        return {"entra": self.entra_method, "okta": self.okta_method}.get(kind, "")


class Delivery(models.Model):
    """One first sign-in issued: the secret encrypted (tenants/crypto.py) until it is viewed
    once or its link expires, then wiped; the link's token only as a hash."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(DirectoryConnection, on_delete=models.CASCADE, related_name="+")
    step = models.OneToOneField(
        Step, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    method = models.CharField(max_length=20)
    recipient = models.EmailField(blank=True)  # "" when the directory delivered it itself
    ciphertext = models.TextField(blank=True)
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    viewed_at = models.DateTimeField(null=True, blank=True)
    wiped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(
                fields=["expires_at"],
                condition=models.Q(wiped_at__isnull=True),
                name="first_sign_in_unwiped_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{METHOD_NAMES.get(self.method, self.method)} for {self.identity_id}"

    @property
    def method_name(self) -> str:
        return METHOD_NAMES.get(self.method, self.method)
