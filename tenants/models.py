"""Client tenants, their directory connections (encrypted credentials) and role templates."""

import uuid
from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.choices import display_of
from tenants import crypto, endpoints


class Tenant(models.Model):
    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    primary_domain = models.CharField(max_length=253)
    other_domains = models.JSONField(default=list, blank=True)
    default_usage_location = models.CharField(max_length=2, default="GB")
    time_zone = models.CharField(max_length=64, default="Europe/London")
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True, max_length=4000)
    is_active = models.BooleanField(default=True)
    # Mass-change circuit breaker: an offboarding run larger than this waits for an MSP admin.
    offboard_hold_percent = models.PositiveSmallIntegerField(
        "hold offboarding runs above (% of managed people)", default=10
    )
    offboard_hold_count = models.PositiveIntegerField(
        "hold offboarding runs above (people)", default=25
    )
    link_existing_accounts = models.BooleanField(
        "link existing directory accounts",
        default=False,
        help_text="When a joiner's username already exists in a directory, link that account "
        "and plan the difference instead of failing.",
    )
    audit_retention_days = models.PositiveIntegerField("keep audit events for (days)", default=400)
    request_expiry_days = models.PositiveSmallIntegerField(
        "pending access requests expire after (days)", default=7
    )
    # HMAC secret of the HR webhook, Fernet-encrypted like connection secrets; never rendered.
    hr_webhook_secret_ciphertext = models.TextField(blank=True, editable=False)
    hr_webhook_secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TenantAssignment", related_name="assigned_tenants"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # A new random value whenever the tenant's row, or a row of its connections, role
    # templates or attribute mappings, is inserted, changed or deleted, however it is written
    # (queryset updates and raw SQL included): set by database triggers (migration 0012). A
    # worker keeps those rows across runs by it (provisioning/engine/memo.py).
    config_version = models.UUIDField(default=uuid.uuid4, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def domains(self) -> list[str]:
        return [self.primary_domain, *[d for d in self.other_domains if d != self.primary_domain]]

    def offboard_hold_limit(self, managed: int) -> int:
        """The most people one run may offboard without an MSP admin's confirmation."""
        by_share = max(1, managed * self.offboard_hold_percent // 100)
        return min(self.offboard_hold_count, by_share)

    @property
    def has_hr_webhook_secret(self) -> bool:
        return bool(self.hr_webhook_secret_ciphertext)

    def set_hr_webhook_secret(self, plaintext: str) -> None:
        self.hr_webhook_secret_ciphertext = crypto.encrypt(plaintext)
        self.hr_webhook_secret_set_at = timezone.now()

    def get_hr_webhook_secret(self) -> str:
        return crypto.decrypt(self.hr_webhook_secret_ciphertext)


class OffboardingPreset(models.Model):
    """Which offboarding options are on by default for a tenant's leavers."""

    class OktaMode(models.TextChoices):
        SUSPEND = "suspend", "Suspend (keeps app assignments)"
        DEACTIVATE = "deactivate", "Deactivate (drops app assignments)"

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="offboarding_preset"
    )
    block_sign_in = models.BooleanField(default=True)
    okta_mode = models.CharField(max_length=10, choices=OktaMode.choices, default="suspend")
    revoke_sessions = models.BooleanField(default=True)
    reset_password = models.BooleanField(default=True)
    remove_groups = models.BooleanField(default=True)
    keep_groups = models.JSONField(default=list, blank=True)
    remove_licenses = models.BooleanField(default=True)
    remove_apps = models.BooleanField(default=True)
    delete_after_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=30, help_text="Blank: keep the disabled account."
    )
    # The leaver's mail, files and reports (provisioning/engine/mailbox.py). Off by default:
    # what answers or reads a leaver's mail is each client's policy. On: the org chart and the
    # files stay with the team (Microsoft itself gives a deleted user's OneDrive to the
    # manager), and the Exchange-only work appears on the job's checklist.
    auto_reply = models.BooleanField(default=False)
    auto_reply_message = models.TextField(blank=True, default="")
    forward_to_manager = models.BooleanField(default=False)
    files_to_manager = models.BooleanField(default=True)
    reassign_reports = models.BooleanField(default=True)
    convert_to_shared_mailbox = models.BooleanField(default=True)
    hide_from_address_list = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Offboarding preset of {self.tenant}"


class TenantAssignment(models.Model):
    """A technician, account manager or client admin assigned to a tenant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="unique_tenant_assignment")
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.tenant}"


class DirectoryConnection(models.Model):
    class Kind(models.TextChoices):
        ENTRA = "entra", "Microsoft Entra ID"
        OKTA = "okta", "Okta"
        SCIM = "scim", "SCIM app"

    class ScimAuth(models.TextChoices):
        BEARER = "bearer", "Bearer token"
        OAUTH = "oauth", "OAuth 2.0 client credentials"

    class ScimProfile(models.TextChoices):
        """A vendor's known quirks, on top of what its discovery endpoints declare."""

        GENERIC = "generic", "Generic (as the app declares)"
        SLACK = "slack", "Slack-like (groups replaced with PUT, no PATCH on groups)"
        ZOOM = "zoom", "Zoom-like (filters on userName only, 100 a page, no groups)"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="connections")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    get_kind_display = display_of("kind")  # a directory's label, named by every event
    # Entra ID
    directory_id = models.CharField("directory (tenant) ID", max_length=64, blank=True)
    client_id = models.CharField("application (client) ID", max_length=64, blank=True)
    login_base_url = models.URLField(blank=True, help_text="Override for the sandbox.")
    graph_base_url = models.URLField(blank=True, help_text="Override for the sandbox.")
    # Okta
    org_url = models.URLField(blank=True)
    # A SCIM 2.0 app (RFC 7643/7644): several per tenant, told apart by name.
    name = models.CharField(max_length=80, blank=True)
    scim_base_url = models.URLField("SCIM base URL", blank=True)
    scim_auth = models.CharField(
        "authentication", max_length=10, choices=ScimAuth.choices, default=ScimAuth.BEARER
    )
    scim_token_url = models.URLField("OAuth token URL", blank=True)
    scim_profile = models.CharField(
        "vendor profile", max_length=10, choices=ScimProfile.choices, default=ScimProfile.GENERIC
    )
    # What Test connection read from /ServiceProviderConfig, /Schemas and /ResourceTypes
    # (provisioning/connectors/scim.py: Discovery.as_dict); {} until then.
    scim_discovered = models.JSONField(default=dict, blank=True, editable=False)
    # The client secret (Entra) or API token (Okta), Fernet-encrypted; never rendered.
    secret_ciphertext = models.TextField(blank=True, editable=False)
    secret_set_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_expires_on = models.DateField(null=True, blank=True)
    # When the directory says the credential in use ends (Entra: the app's passwordCredentials),
    # read by the daily check; it wins over the typed-in date. Cleared when the secret changes.
    credential_expiry_read = models.DateTimeField(null=True, blank=True, editable=False)
    credential_expiry_detail = models.CharField(max_length=200, blank=True, editable=False)
    # Our own pace towards this directory, shared by every worker (provisioning/throttle.py).
    rate_limit_per_s = models.FloatField(default=20.0)
    rate_burst = models.PositiveIntegerField(default=20)
    # Set when most recent calls failed: its jobs wait until an MSP admin releases it.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    quarantine_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__name", "kind"]
        constraints = [
            # One Entra and one Okta per tenant; SCIM apps as many as it uses, each named.
            models.UniqueConstraint(
                fields=["tenant", "kind"],
                condition=~models.Q(kind="scim"),
                name="one_connection_per_kind",
            ),
            models.UniqueConstraint(
                fields=["tenant", "name"],
                condition=models.Q(kind="scim"),
                name="unique_scim_app_name_per_tenant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant.name} · {self.label}"

    @property
    def label(self) -> str:
        """What people call it: the directory's kind, or a SCIM app's own name."""
        if self.kind == self.Kind.SCIM and self.name:
            return f"{self.name} (SCIM)"
        return self.get_kind_display()

    @property
    def assigned_by_template(self) -> bool:
        """Whether a person has an account here only when a role template (or a grant) gives
        them this app: a SCIM app; a directory holds every managed person."""
        return self.kind == self.Kind.SCIM

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_ciphertext)

    @property
    def secret_binding(self) -> str:
        """What the secret is for: kind, ids and endpoints (tenants.endpoints.secret_binding)."""
        return endpoints.secret_binding(
            self.kind,
            self.directory_id,
            self.client_id,
            self.login_base_url,
            self.graph_base_url,
            self.org_url,
            scim=(self.scim_base_url, self.scim_auth, self.scim_token_url)
            if self.kind == self.Kind.SCIM
            else None,
        )

    def set_secret(self, plaintext: str) -> None:
        """Store the secret bound to the row's current ids and endpoints: set those first."""
        self.secret_ciphertext = crypto.encrypt_bound(plaintext, self.secret_binding)
        self.secret_set_at = timezone.now()
        self.credential_expiry_read, self.credential_expiry_detail = None, ""

    def get_secret(self) -> str:
        """The plaintext secret, for the connectors only. Raises crypto.CredentialError, or
        crypto.SecretBindingError when the ids or endpoints changed since it was entered."""
        return crypto.decrypt_bound(self.secret_ciphertext, self.secret_binding)

    @property
    def credential_expires_on(self) -> date | None:
        """The day the credential ends: as the directory tells it, else as typed in."""
        if self.credential_expiry_read:
            return timezone.localdate(self.credential_expiry_read)
        return self.secret_expires_on

    @property
    def credential_expiry_source(self) -> str:
        if self.credential_expiry_read:
            return "directory"
        return "typed in" if self.secret_expires_on else ""

    def secret_expires_in_days(self, today: date | None = None) -> int | None:
        expires = self.credential_expires_on
        if not expires:
            return None
        return (expires - (today or timezone.localdate())).days

    @property
    def secret_expiring_soon(self) -> bool:
        days = self.secret_expires_in_days()
        return days is not None and days <= 30


class RoleTemplate(models.Model):
    """A named role: the groups, licences, apps and attribute defaults a joiner gets.

    `tenant` is None for an MSP-wide template that tenants copy and adapt.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="role_templates", null=True, blank=True
    )
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    groups = models.JSONField(default=list, blank=True)
    licenses = models.JSONField(default=list, blank=True)
    apps = models.JSONField(default=list, blank=True)
    department = models.CharField(max_length=64, blank=True)
    job_title = models.CharField(max_length=128, blank=True)
    usage_location = models.CharField(max_length=2, blank=True)
    company = models.CharField(max_length=64, blank=True)
    office = models.CharField(max_length=64, blank=True)
    # SCIM apps a joiner gets an account in: [{"connection": id, "groups": [names]}].
    scim_apps = models.JSONField("SCIM apps", default=list, blank=True)
    username_rule = models.CharField(max_length=120, default="{first}.{last}@{domain}")
    domain = models.CharField(max_length=253, blank=True, help_text="Blank: the primary domain.")
    copied_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="copies"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_role_name_per_tenant"),
            models.UniqueConstraint(
                fields=["name"],
                condition=models.Q(tenant__isnull=True),
                name="unique_msp_role_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def scim_groups_for(self, connection_id: int) -> list[str] | None:
        """The groups this template gives in a SCIM app, or None when it does not give it."""
        for entry in self.scim_apps or []:
            if entry.get("connection") == connection_id:
                return list(entry.get("groups") or [])
        return None

    @property
    def effective_domain(self) -> str:
        return self.domain or (self.tenant.primary_domain if self.tenant else "")


class AttributeMapping(models.Model):
    """One target attribute of a tenant's target, computed by an expression
    (tenants/mappings/): a row exists only where the tenant changed the default."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="mappings")
    # "entra", "okta", "scim:<connection id>" or "inbound-scim" (tenants/mappings/defaults.py)
    target = models.CharField(max_length=40)
    attribute = models.CharField(max_length=40)  # our name of the target attribute
    expression = models.TextField(max_length=1000)
    order = models.PositiveSmallIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["target", "order", "attribute"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "target", "attribute"], name="one_mapping_per_attribute"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant} · {self.target} · {self.attribute} ← {self.expression}"
