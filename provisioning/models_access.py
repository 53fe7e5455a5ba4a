"""Access requests: resources a tenant lets people ask for, the requests, and their grants."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from portal.models import Role
from tenants.models import DirectoryConnection, Tenant


class RequestableResource(models.Model):
    """A directory group or app that people of a tenant may request."""

    class Kind(models.TextChoices):
        GROUP = "group", "Group"
        APP = "app", "App"

    class Approvers(models.TextChoices):
        CLIENT_ADMINS = "client_admins", "The tenant's client admins"
        NAMED = "named", "Named client admins"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="requestables")
    connection = models.ForeignKey(
        DirectoryConnection, on_delete=models.CASCADE, related_name="requestables"
    )
    kind = models.CharField(max_length=5, choices=Kind.choices)
    remote_id = models.CharField(max_length=128)
    name = models.CharField(max_length=256)
    description = models.CharField(max_length=300, blank=True)
    approvers = models.CharField(
        max_length=15, choices=Approvers.choices, default=Approvers.CLIENT_ADMINS
    )
    named_approvers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    time_bound = models.BooleanField(default=False)
    max_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # Auto-approve: people whose attribute equals the value get it without a human decision.
    auto_approve_attribute = models.CharField(max_length=30, blank=True)
    auto_approve_value = models.CharField(max_length=128, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "remote_id"], name="requestable_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}, {self.connection.label})"


def approvers_of(resource: RequestableResource) -> list:
    """The client admins who decide on requests for `resource`: the tenant's, or the named
    ones while they still are (a named approver made account manager, or moved to another
    tenant, decides nothing)."""
    people = get_user_model().objects.filter(
        is_active=True,
        profile__role=Role.CLIENT_ADMIN,
        tenantassignment__tenant=resource.tenant,
    )
    if resource.approvers == RequestableResource.Approvers.NAMED:
        people = people.filter(pk__in=resource.named_approvers.values("pk"))
    return list(people.distinct())


def is_for(user, identity) -> bool:
    """Whether `identity` is this portal person themselves: their portal address (set by an
    MSP admin on the staff page, not by them) is the person's address or username. Nobody
    approves access for themselves, as Entra's entitlement management has it ("approvers
    can't approve their own requests", the requestor being the one the access is for)."""
    address = (getattr(user, "email", "") or "").strip().casefold()
    return bool(address) and address in (
        (identity.email or "").casefold(),
        (identity.username or "").casefold(),
    )


class AccessRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved, granting"
        GRANTED = "granted", "Granted"
        FAILED = "failed", "Grant failed"
        DENIED = "denied", "Denied"
        CANCELLED = "cancelled", "Cancelled"
        EXPIRED = "expired", "Expired (no decision)"
        ENDING = "ending", "Ending"
        ENDED = "ended", "Ended"
        REVOKED = "revoked", "Revoked"

    OPEN = (Status.PENDING,)
    LIVE = (Status.APPROVED, Status.GRANTED)

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="access_requests")
    identity = models.ForeignKey(
        "provisioning.Identity", on_delete=models.CASCADE, related_name="access_requests"
    )
    resource = models.ForeignKey(
        RequestableResource, on_delete=models.PROTECT, related_name="requests"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(max_length=2000)
    ends_at = models.DateTimeField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by_rule = models.CharField(max_length=200, blank=True)
    decision_reason = models.TextField(max_length=2000, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    grant_job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    end_job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    added_access = models.BooleanField(default=False)  # False: they held it already
    extends = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="extensions"
    )
    notices_sent = models.JSONField(default=list, blank=True)  # e.g. ["expiry-7", "expiry-1"]
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "status"], name="access_request_state_idx"),
            models.Index(
                fields=["ends_at"], condition=models.Q(status="granted"), name="grant_ends_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.resource.name} for {self.identity.display_name}"


class ActionRequest(models.Model):
    """A client admin's request that the MSP onboard or offboard someone: technicians act on
    it through their own runbook (the forms), so the MSP stays in control."""

    class Kind(models.TextChoices):
        ONBOARD = "onboard", "Onboard"
        OFFBOARD = "offboard", "Offboard"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        DECLINED = "declined", "Declined"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="action_requests")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    identity = models.ForeignKey(
        "provisioning.Identity", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)  # names, role, dates as the admin gave
    note = models.TextField(max_length=2000, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} request #{self.pk}"
