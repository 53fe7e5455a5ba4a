"""Observed accounts per directory connection, and where each connection's reads stand."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from provisioning.models import Identity, Job
from tenants.models import DirectoryConnection, Tenant


class Account(models.Model):
    """One account as the directory last showed it, whether the portal manages it or not."""

    # Indexed by inventory_account_once (connection_id first), the tenant by the tenant's
    # searches and the person by inventory_person_connection: no index of their own to write.
    connection = models.ForeignKey(
        DirectoryConnection,
        on_delete=models.CASCADE,
        related_name="inventory_accounts",
        db_index=False,
    )
    # The connection's tenant, kept here so that a tenant's search needs no join.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
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
    # The person this account is, across the tenant's directories (matching.py sets it).
    person = models.ForeignKey(
        "inventory.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="accounts",
        db_index=False,
    )
    # Whether the tenant's scope rules let the portal manage it (scope.py), and why not.
    in_scope = models.BooleanField(default=False)
    scope_reason = models.CharField(max_length=200, blank=True)
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
            models.Index(fields=["person", "connection"], name="inventory_person_connection"),
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
    # "Read now" asked while a read ran (that read may have passed what the asker has just
    # changed): one more read is queued for after it; the next read to start clears it.
    follow_up_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"inventory of {self.connection_id}: {self.state}"


class Policy(models.Model):
    """How the portal takes over one tenant's directories: which accounts are one person
    (matching), which accounts it may manage (scope), and what it does about drift."""

    class MatchOn(models.TextChoices):
        USERNAME = "username", "Username (Entra UPN, Okta login)"
        MAIL = "mail", "E-mail address"
        EMPLOYEE_ID = "employee_id", "Employee id"
        ATTRIBUTE = "attribute", "Another attribute"

    class OutOfScope(models.TextChoices):
        # Entra's provisioning skips out-of-scope deletions by default; so does the portal.
        KEEP = "keep", "Leave the account as it is"
        DISABLE = "disable", "Block sign-in"
        DELETE = "delete", "Delete the account"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="inventory_policy")
    match_on = models.CharField(max_length=20, choices=MatchOn.choices, default=MatchOn.USERNAME)
    match_attribute = models.CharField(max_length=100, blank=True)  # with MatchOn.ATTRIBUTE
    # Scope: an account is in scope when it passes every rule that is set (an empty list
    # asks nothing) and matches no excluded pattern.
    user_types = models.JSONField(default=list, blank=True)  # e.g. ["Member"]; Okta has none
    domains = models.JSONField(default=list, blank=True)  # of the username
    departments = models.JSONField(default=list, blank=True)
    groups = models.JSONField(default=list, blank=True)  # [{"id", "name"}]: member of any
    enabled_only = models.BooleanField(default=False)
    # Glob patterns (fnmatch, case-insensitive) over username and display name: service,
    # shared and break-glass accounts the portal must never touch.
    excluded_patterns = models.JSONField(default=list, blank=True)
    out_of_scope_action = models.CharField(
        max_length=10, choices=OutOfScope.choices, default=OutOfScope.KEEP
    )
    auto_converge = models.BooleanField(default=False)  # drift converged without a click
    stale_after_days = models.PositiveIntegerField(default=90)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"inventory policy of {self.tenant}"


class Person(models.Model):
    """One person as the tenant's directories show them: their accounts matched across
    directories by the tenant's rule, and the managed Identity when there is one. The
    People page lists these rows; their columns are the accounts' summary, kept by
    matching.py, so that a page of 50,000 needs no join."""

    # Indexed by inventory_person_once (tenant_id first).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    # The matching rule's value, casefolded; "account:<pk>" for an account without one,
    # "identity:<pk>" for a managed person without one.
    key = models.CharField(max_length=400)
    identity = models.OneToOneField(
        Identity,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inventory_person",
    )
    display_name = models.CharField(max_length=256, blank=True)
    sort_name = models.CharField(max_length=256, blank=True)  # casefolded display name
    username = models.CharField(max_length=320, blank=True)
    mail = models.CharField(max_length=320, blank=True)
    employee_id = models.CharField(max_length=64, blank=True)
    search = models.TextField(blank=True)  # casefolded name, username, mail, employee id
    enabled = models.BooleanField(default=False)  # any account may sign in
    licensed = models.BooleanField(default=False)
    last_sign_in = models.DateTimeField(null=True, blank=True)  # latest of any account
    in_scope = models.BooleanField(default=False)  # every live account is in scope
    accounts_count = models.PositiveSmallIntegerField(default=0)  # live accounts
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], name="inventory_person_once")
        ]
        indexes = [
            models.Index(fields=["tenant", "sort_name", "id"], name="inventory_person_order"),
            models.Index(fields=["tenant", "username"], name="inventory_person_username"),
            models.Index(fields=["tenant", "last_sign_in"], name="inventory_person_sign_in"),
            # The dashboard counts these per tenant (queries_drift.UNMANAGED).
            models.Index(
                fields=["tenant"],
                condition=models.Q(identity__isnull=True, in_scope=True, accounts_count__gt=0),
                name="inventory_person_unmanaged",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username or self.key

    @property
    def managed(self) -> bool:
        return self.identity_id is not None


class Resource(models.Model):
    """A group, licence SKU or app of a connection's directory, by id and name, as the last
    read saw it: what turns the accounts' ids into names and templates' names into ids."""

    connection = models.ForeignKey(
        DirectoryConnection, on_delete=models.CASCADE, related_name="inventory_resources"
    )
    kind = models.CharField(max_length=10)  # groups | licenses | apps
    remote_id = models.CharField(max_length=200)
    name = models.CharField(max_length=256)
    detail = models.JSONField(default=dict, blank=True)  # e.g. seats of a SKU, dynamic group

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "remote_id"], name="inventory_resource_once"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Drift(models.Model):
    """One difference between what the portal wants and what the directory shows, found by an
    inventory cycle: open until converged, accepted as an exception, dismissed, or gone."""

    class Kind(models.TextChoices):
        MISSING = "missing", "Missing access"
        EXTRA = "extra", "Extra access"
        STATE = "state", "State mismatch"
        VANISHED = "vanished", "Account vanished"
        UNMANAGED = "unmanaged", "Nobody manages it"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONVERGING = "converging", "Converging"
        ACCEPTED = "accepted", "Accepted as an exception"
        DISMISSED = "dismissed", "Dismissed"
        RESOLVED = "resolved", "Resolved"

    OPEN_STATES = (Status.OPEN, Status.CONVERGING)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="drift")
    identity = models.ForeignKey(
        Identity, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    connection = models.ForeignKey(DirectoryConnection, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        Account, on_delete=models.SET_NULL, null=True, blank=True, related_name="drift"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    access_kind = models.CharField(max_length=10, blank=True)  # groups | licenses | apps
    ref_id = models.CharField(max_length=200, blank=True)  # the group, SKU or app
    ref_name = models.CharField(max_length=256, blank=True)
    detail = models.CharField(max_length=500, blank=True)  # what differs, as a sentence
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    found_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True)  # an acceptance's or dismissal's
    job = models.ForeignKey(Job, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-found_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "status", "kind"], name="inventory_drift_open"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.detail}"
