"""Observed accounts per directory connection, and where each connection's reads stand."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import DirectoryConnection, Tenant


class Account(models.Model):
    """One account as the directory last showed it, whether the portal manages it or not."""

    connection = models.ForeignKey(
        DirectoryConnection, on_delete=models.CASCADE, related_name="inventory_accounts"
    )
    # The connection's tenant, kept here so that a tenant's search needs no join.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    remote_id = models.CharField(max_length=200)
    username = models.CharField(max_length=320, blank=True)  # Entra UPN, Okta login
    mail = models.CharField(max_length=320, blank=True)
    employee_id = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=256, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    last_name = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True)
    user_type = models.CharField(max_length=40, blank=True)  # Entra Member/Guest
    department = models.CharField(max_length=200, blank=True)
    attributes = models.JSONField(default=dict, blank=True)  # the rest, directory's names
    group_ids = models.JSONField(default=list, blank=True)
    licence_ids = models.JSONField(default=list, blank=True)
    app_ids = models.JSONField(default=list, blank=True)
    last_sign_in = models.DateTimeField(null=True, blank=True)
    deleted = models.BooleanField(default=False)  # gone, or in Entra's deleted items
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "remote_id"], name="inventory_account_once"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "username"], name="inventory_tenant_username"),
            models.Index(fields=["tenant", "mail"], name="inventory_tenant_mail"),
            models.Index(fields=["tenant", "display_name"], name="inventory_tenant_name"),
            models.Index(
                fields=["tenant", "last_name", "first_name"], name="inventory_tenant_last_first"
            ),
            models.Index(fields=["tenant", "employee_id"], name="inventory_tenant_employee"),
        ]

    def __str__(self) -> str:
        return self.username or self.remote_id


class Cursor(models.Model):
    """Where a connection's inventory reads stand, and how the current or last one went."""

    class State(models.TextChoices):
        IDLE = "idle", "Idle"
        RUNNING = "running", "Running"
        FAILED = "failed", "Failed"

    connection = models.OneToOneField(
        DirectoryConnection, on_delete=models.CASCADE, related_name="inventory_cursor"
    )
    # Where the next incremental read starts ("" = a full read): Graph's users/delta
    # deltaLink, or Okta's lastUpdated watermark.
    users_cursor = models.TextField(blank=True)
    groups_cursor = models.TextField(blank=True)  # Graph's groups/delta deltaLink
    state = models.CharField(max_length=10, choices=State.choices, default=State.IDLE)
    full = models.BooleanField(default=False)  # the current (or last) read was a full one
    full_read_at = models.DateTimeField(null=True, blank=True)  # the last full read's start
    # Why the last full read has no sign-ins ("" when it has them or the directory has none
    # apart): e.g. Graph's 403 without a premium licence or AuditLog.Read.All.
    sign_ins_note = models.CharField(max_length=500, blank=True)
    accounts_read = models.PositiveIntegerField(default=0)
    groups_read = models.PositiveIntegerField(default=0)
    pages_read = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"inventory of {self.connection_id}: {self.state}"
