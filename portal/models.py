"""People and their staff roles. Tenant assignments live in tenants/ (the layer above)."""

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    MSP_ADMIN = "msp_admin", "MSP admin"
    TECHNICIAN = "technician", "Technician"
    ACCOUNT_MANAGER = "account_manager", "Account manager"
    CLIENT_ADMIN = "client_admin", "Client admin"


class StaffProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    all_tenants = models.BooleanField(
        default=False, help_text="Technicians and account managers: see every tenant."
    )
    optional_emails = models.BooleanField(
        "non-essential e-mails",
        default=True,
        help_text="Reminders and outcomes; requests waiting for you are always sent.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Counts each time their access was taken away (portal.deactivation): a password reset
    # link covers it, so one mailed before a deactivation stays dead after a reactivation.
    access_withdrawals = models.PositiveIntegerField(default=0, editable=False)

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"

    @property
    def is_msp_admin(self) -> bool:
        return self.role == Role.MSP_ADMIN

    @property
    def is_client_admin(self) -> bool:
        return self.role == Role.CLIENT_ADMIN


def role_of(user) -> str | None:
    """The staff role of a user, or None for anonymous users and users without a profile."""
    if not getattr(user, "is_authenticated", False):
        return None
    profile = getattr(user, "profile", None)
    try:
        return profile.role if profile else None
    except StaffProfile.DoesNotExist:
        return None


def has_role(user, roles) -> bool:
    """Whether the person's role is one of `roles` (no role: never). The questions built on it
    are tenants.access's; this layer's own modules (the admin site, the second factor, the
    navigation), below tenants/, ask here."""
    role = role_of(user)
    return role is not None and role in tuple(roles)
