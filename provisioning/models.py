"""Identities (desired state), their directory accounts, and the jobs and steps that change them."""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.functional import cached_property

from portal.choices import display_of
from tenants.models import DirectoryConnection, RoleTemplate, Tenant


class Identity(models.Model):
    """One managed person in one tenant: what they should have, whatever the directories say."""

    class Status(models.TextChoices):
        JOINER = "joiner", "Joiner"
        ACTIVE = "active", "Active"
        LEAVER = "leaver", "Leaver"
        LEFT = "left", "Left"  # disabled and stripped; restorable until its hard delete
        DELETED = "deleted", "Deleted"  # gone from the directories; a rehire is a new join

    LEAVING_OR_GONE = (Status.LEAVER, Status.LEFT, Status.DELETED)

    # Indexed by unique_username_per_tenant (tenant_id first): no index of its own to write.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="identities", db_index=False
    )
    first_name = models.CharField(max_length=64)
    last_name = models.CharField(max_length=64)
    display_name = models.CharField(max_length=160)
    username = models.CharField(max_length=254, help_text="UPN (Entra) and login (Okta).")
    employee_id = models.CharField(max_length=64, blank=True, help_text="The HR system's id.")
    # The id a SCIM client (an identity provider or HR system) keeps for the person.
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    email = models.EmailField(max_length=254)
    attributes = models.JSONField(default=dict, blank=True)  # overrides of template defaults
    extra_groups = models.JSONField(default=list, blank=True)
    role_templates = models.ManyToManyField(RoleTemplate, related_name="identities", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.JOINER)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    # Desired state that no template holds (provisioning/engine/desired.py builds it all):
    license_choices = models.JSONField(default=dict, blank=True)  # SKU -> replacement or ""
    provision_from = models.DateTimeField(null=True, blank=True)  # no account before this
    enable_at = models.DateTimeField(null=True, blank=True)  # created ahead: sign-in from this
    leave_options = models.JSONField(default=dict, blank=True)  # the leave under way or done
    access_exceptions = models.JSONField(default=dict, blank=True)  # per connection id
    # The directory connections (ids) the person is managed in: an adopted person only those
    # they had an account in. None: every directory connection of the tenant. SCIM apps go by
    # the role templates whatever this says.
    directories = models.JSONField(null=True, blank=True, default=None)
    # Bumped by every action, in the action's transaction; jobs converge to a version.
    desired_version = models.PositiveIntegerField(default=0)
    last_reconciled_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name"]
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "username"], name="unique_username_per_tenant"
            ),
            # A username is a UPN and an Okta login, both case-insensitive: two people whose
            # usernames differ in case only would own one account (an adoption takes the
            # directory's case, the forms lower it). The checks before a save read `iexact`;
            # this refuses the second of two saves that both passed them.
            models.UniqueConstraint(
                models.F("tenant"),
                Lower("username"),
                name="unique_username_any_case_per_tenant",
            ),
            models.UniqueConstraint(
                fields=["tenant", "employee_id"],
                condition=~models.Q(employee_id=""),
                name="unique_employee_id_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_name} <{self.username}>"

    def get_status_display(self) -> str:
        """The status in words. `deleted` is the desired state from the hard delete's start:
        it reads "Deleted" only once that job succeeded, never while the directories may
        still hold the account (converge22)."""
        deletion = self.deletion
        if deletion is None:
            return self.Status(self.status).label
        return DELETION_LABELS[deletion["state"]]

    @property
    def shown_status(self) -> str:
        """The status a badge shows: `deleting` or `delete_failed` for an unfinished delete."""
        deletion = self.deletion
        if deletion is None:
            return self.status
        return "delete_failed" if deletion["state"] == "failed" else "deleting"

    def newest_started_job(self, *kinds: str) -> "Job | None":
        """Their newest job of one of `kinds` that started (not scheduled, held or cancelled)."""
        started = self.jobs.filter(kind__in=kinds).exclude(status__in=NOT_STARTED)
        return started.order_by("-pk").first()

    @cached_property
    def deletion(self) -> dict | None:
        """A hard delete that has started and not succeeded: {"state": "deleting" or
        "failed", "job_id", "error"}; None otherwise (deleted, or not being deleted). Read
        once per instance: a page asks for it several times."""
        if self.status != self.Status.DELETED or self.pk is None:
            return None
        job = self.newest_started_job(Job.Kind.DELETE)
        if job is None or job.status == Job.Status.SUCCEEDED:
            return None
        if job.status not in (Job.Status.FAILED, Job.Status.PARTIAL):
            return {"state": "deleting", "job_id": job.pk, "error": ""}
        return {"state": "failed", "job_id": job.pk, "error": job.failure_reason()}


DELETION_LABELS = {"deleting": "Deleting", "failed": "Delete failed"}


def without_the_deleted(people: models.QuerySet) -> models.QuerySet:
    """The people but those the hard delete removed: one whose delete started and has not
    succeeded may still hold an account, and stays listed (as `Identity.deletion` says)."""
    newest = (
        Job.objects.filter(identity=models.OuterRef("pk"), kind=Job.Kind.DELETE)
        .exclude(status__in=NOT_STARTED)
        .order_by("-pk")
        .values("status")[:1]
    )
    unfinished = [s for s in Job.Status if s != Job.Status.SUCCEEDED and s not in NOT_STARTED]
    people = people.annotate(newest_delete=models.Subquery(newest))
    return people.filter(
        ~models.Q(status=Identity.Status.DELETED) | models.Q(newest_delete__in=unfinished)
    )


class DirectoryAccount(models.Model):
    """The link between an Identity and its object in one directory."""

    # Indexed by one_account_per_dir (identity_id first).
    identity = models.ForeignKey(
        Identity, on_delete=models.CASCADE, related_name="accounts", db_index=False
    )
    connection = models.ForeignKey(
        DirectoryConnection, on_delete=models.PROTECT, related_name="accounts"
    )
    remote_id = models.CharField(max_length=128, blank=True)
    created_remotely_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # The access the portal added here ({"groups": [{"id", "name"}], ...}): what it may take
    # away again when no longer desired, unlike access the account held before.
    managed = models.JSONField(default=dict, blank=True)
    # First 404 for the stored id: absent only once confirmed past the replication window.
    missing_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["identity", "connection"], name="one_account_per_dir")
        ]

    def __str__(self) -> str:
        return f"{self.identity} in {self.connection}"


class Job(models.Model):
    class Kind(models.TextChoices):
        JOIN = "join", "Join"
        CHANGE = "change", "Change"
        LEAVE = "leave", "Leave"
        RETRY = "retry", "Retry"
        RECONCILE = "reconcile", "Reconcile"
        RESTORE = "restore", "Restore"
        DELETE = "delete", "Delete"
        GRANT = "grant", "Grant access"
        REVOKE = "revoke", "Remove access"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"  # runs at not_before
        HELD = "held", "Needs confirmation"  # a mass change held by the circuit breaker
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"  # throttled, or its connection is quarantined
        # Stopped before sending anything: a person must choose (e.g. another licence).
        NEEDS_CHOICE = "choice", "Needs a choice"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PARTIAL = "partial", "Partially failed"
        CANCELLED = "cancelled", "Cancelled"

    DONE = (Status.SUCCEEDED, Status.FAILED, Status.PARTIAL, Status.CANCELLED)
    # Until it falls due (or is confirmed) a job has changed nothing; once queued, what it
    # asks for is the person's desired state already, and only another action changes that.
    CANCELLABLE = (Status.SCHEDULED, Status.HELD)

    # Indexed by job_tenant_recent_idx (tenant_id first).
    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="jobs", db_index=False
    )
    identity = models.ForeignKey(
        Identity, on_delete=models.PROTECT, related_name="jobs", null=True, blank=True
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Indexed by job_status_idx below: one index, not db_index's two (PostgreSQL's
    # varchar_pattern_ops copy serves LIKE, which no query asks of a status).
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    batch = models.ForeignKey(
        "provisioning.Batch", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    not_before = models.DateTimeField(null=True, blank=True)  # when a scheduled job may start
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    options = models.JSONField(default=dict, blank=True)  # e.g. licence choices, skip lists
    planned = models.BooleanField(default=False)
    steps_total = models.PositiveIntegerField(default=0)
    steps_done = models.PositiveIntegerField(default=0)
    steps_failed = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    waiting_reason = models.CharField(max_length=300, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # A WAITING job's come-back time (None: whenever it is enqueued). A task that arrives
    # before it is a duplicate (the park enqueued one for this time) and is dropped unrun.
    resume_at = models.DateTimeField(null=True, blank=True)
    # The person's desired-state version this job was asked for, and the one it verified.
    desired_version = models.PositiveIntegerField(default=0)
    converged_version = models.PositiveIntegerField(null=True, blank=True)
    verification = models.JSONField(default=dict, blank=True)  # the read-back, per directory
    # Work the directory's API cannot do (on-premises AD, Exchange), found when planning:
    # [{"connection": id, "kind": ..., "item": what to do, "reason": why not here}]
    checklist = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="job_tenant_recent_idx"),
            models.Index(fields=["status"], name="job_status_idx"),
            models.Index(
                fields=["not_before"],
                condition=models.Q(status="scheduled"),
                name="job_scheduled_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} #{self.pk}"

    @property
    def label(self) -> str:
        """What the job does, in the words of its lists and page: a Change that only lets a
        joiner created ahead sign in on their first day read "Change", as a move does."""
        if self.kind == self.Kind.CHANGE and self.options.get("enable"):
            return "Allow sign-in"
        if self.kind == self.Kind.CHANGE and self.options.get("add_directory"):
            return "Add a directory"
        return self.get_kind_display()

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE

    @property
    def steps_known(self) -> bool:
        """Whether its step count means something: before the engine plans it, "0/0" read as
        a job with nothing to do."""
        return bool(self.steps_total) or self.planned or self.is_done

    @property
    def duration_s(self) -> float | None:
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return (end - self.started_at).total_seconds()

    def failure_reason(self) -> str:
        """Why it failed: the first failed step's error (what the directory answered), else
        the job's own (one that stopped before its steps)."""
        failed = self.steps.filter(status=Step.Status.FAILED).exclude(last_error="")
        step = failed.select_related("connection").order_by("order").first()
        return f"{step.connection.label}: {step.last_error}" if step else self.error


# A job scheduled, held or cancelled before it ran: nothing of it reached a directory.
NOT_STARTED = (Job.Status.SCHEDULED, Job.Status.HELD, Job.Status.CANCELLED)

OKTA_DISABLE_MODES = {
    "suspend": "Suspend (keeps app assignments)",
    "deactivate": "Deactivate (drops app assignments)",
}


class Step(models.Model):
    """One directory operation of a Job. The row records intent before the call goes out."""

    class Action(models.TextChoices):
        CREATE_USER = "create_user", "Create user"
        LINK_USER = "link_user", "Link existing user"
        UPDATE_USER = "update_user", "Update attributes"
        ASSIGN_LICENSE = "assign_license", "Assign licence"
        REMOVE_LICENSE = "remove_license", "Remove licence"
        ADD_GROUP = "add_group", "Add to group"
        REMOVE_GROUP = "remove_group", "Remove from group"
        ASSIGN_APP = "assign_app", "Assign app"
        UNASSIGN_APP = "unassign_app", "Unassign app"
        REVOKE_SESSIONS = "revoke_sessions", "Revoke sessions"
        DISABLE_USER = "disable_user", "Block sign-in"
        ENABLE_USER = "enable_user", "Allow sign-in"
        RESET_PASSWORD = "reset_password", "Reset password"
        DELETE_USER = "delete_user", "Delete user"
        PURGE_USER = "purge_user", "Purge deleted user"
        SET_LICENSES = "set_licenses", "Change licences"
        REMOVE_ROLE = "remove_role", "Remove directory role"
        REMOVE_ADMIN_UNIT = "remove_admin_unit", "Remove from administrative unit"
        SET_MANAGER = "set_manager", "Set manager"
        REASSIGN_REPORT = "reassign_report", "Give a direct report a new manager"
        AUTO_REPLY = "auto_reply", "Set automatic replies"
        FORWARD_MAIL = "forward_mail", "Forward mail"
        SHARE_FILES = "share_files", "Give access to OneDrive"
        FIRST_SIGN_IN = "first_sign_in", "Issue first sign-in"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"
        # No free seat when it ran: the job read the seats again and asked for a choice.
        REPLACED = "replaced", "No seat: replanned"

    # Indexed by unique_step_order (job_id first): a round's 8 inserted steps write 3
    # indexes, not 4 (docs/benchmarks.md, pg19).
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="steps", db_index=False)
    connection = models.ForeignKey(DirectoryConnection, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveIntegerField()
    action = models.CharField(max_length=20, choices=Action.choices)
    target_name = models.CharField(max_length=256, blank=True)  # group/app/SKU name as shown
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    error_kind = models.CharField(max_length=20, blank=True)
    request_ids = models.JSONField(default=list, blank=True)
    result = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)

    get_action_display = display_of("action")  # the plan names every step by it

    class Meta:
        ordering = ["job", "order"]
        constraints = [models.UniqueConstraint(fields=["job", "order"], name="unique_step_order")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.target_name}".strip()

    @property
    def names_a_licence(self) -> bool:
        """Its target is a licence's part number: the pages show the product's name beside."""
        return self.action in (self.Action.ASSIGN_LICENSE, self.Action.REMOVE_LICENSE)

    @property
    def operation(self) -> str:
        """The action in the dry run's words: Okta's sign-in block is a suspend (keeps app
        assignments) or a deactivate (drops them), and the page says which was done."""
        mode = self.params.get("mode") if self.action == self.Action.DISABLE_USER else None
        return OKTA_DISABLE_MODES.get(mode, self.get_action_display())


from provisioning.models_access import (  # noqa: E402, F401
    AccessRequest,
    ActionRequest,
    RequestableResource,
)
from provisioning.models_batch import Batch, BatchRow  # noqa: E402, F401
from provisioning.models_throttle import ConnectionBucket  # noqa: E402, F401
