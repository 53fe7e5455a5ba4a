"""Who may call a tenant's SCIM endpoint, how a joiner's role templates are chosen, and what
the SCIM side keeps of a person that the Identity does not."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from provisioning.models import Identity
from tenants import access
from tenants.models import RoleTemplate, Tenant


class ScimToken(models.Model):
    """A bearer token of one tenant; only its SHA-256 is kept (it is shown once)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="scim_tokens")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16)  # the first characters, to recognise it by
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def issuer_stands(self) -> bool:
        """Whether the MSP admin who issued it still may (active, still an MSP admin): a
        token has its issuer's standing and is refused without it, as Okta refuses a token
        of a deactivated admin (docs/security.md)."""
        return access.stands_behind(self.created_by, access.SCIM_ISSUER_ROLES)


class RoleRule(models.Model):
    """When a SCIM user's department / job title / pushed group says so, a role template."""

    class Attribute(models.TextChoices):
        DEPARTMENT = "department", "Department is"
        JOB_TITLE = "job_title", "Job title contains"
        GROUP = "group", "Member of group"
        DEFAULT = "default", "No other rule matches (default)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="scim_role_rules")
    position = models.PositiveIntegerField(default=0)
    attribute = models.CharField(max_length=12, choices=Attribute.choices)
    value = models.CharField(max_length=200, blank=True)
    role_template = models.ForeignKey(RoleTemplate, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        if self.attribute == self.Attribute.DEFAULT:
            return f"otherwise → {self.role_template.name}"
        return f"{self.get_attribute_display()} {self.value} → {self.role_template.name}"


class ScimPerson(models.Model):
    """What a SCIM client told of a person beyond the Identity: the groups it pushed (as
    `roles`), whether it deleted the resource (then hidden from its reads), and how many
    times it created the person again after a delete (`generation`): each time the person
    is a new resource with an id of its own, the deleted ones' ids staying 404 (RFC 7644
    §3.6; `resources.user_id`)."""

    identity = models.OneToOneField(Identity, on_delete=models.CASCADE, related_name="scim")
    groups = models.JSONField(default=list, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    generation = models.PositiveIntegerField(default=0)
    # When the current resource was created, if that was a re-creation (`meta.created`).
    recreated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"SCIM side of {self.identity}"
