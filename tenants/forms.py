import re
import uuid
import zoneinfo

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError

from portal.countries import country_code_problem
from portal.plain_text import has_control_character, plain_name
from tenants import endpoints, naming, slugs
from tenants.models import DirectoryConnection, RoleTemplate, Tenant

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_LIST_ITEMS = 100
MAX_ITEM_LENGTH = 256
EXPIRY_HELP = (
    "Optional; alert e-mails warn 30, 7 and 1 days before. The directory does not tell the "
    "portal when a token ends, so this date is the one used."
)
ENTRA_EXPIRY_HELP = (
    "Optional; alert e-mails warn 30, 7 and 1 days before. Entra's is read from the app "
    "registration when the app may (Application.Read.All), and this date is used otherwise."
)


def no_markup(value: str) -> None:
    if "<" in value or ">" in value:
        raise ValidationError("Use plain text: < and > are not allowed here.")


def clean_domain(value: str) -> str:
    domain = value.strip().lower()
    if not DOMAIN_RE.match(domain):
        raise ValidationError(f"“{value[:80]}” is not a domain name such as contoso.com.")
    return domain


class LinesField(forms.CharField):
    """A textarea with one value per line, cleaned into a list without blanks or repeats."""

    widget = forms.Textarea(attrs={"rows": 4})

    def __init__(self, *, item_validator=no_markup, **kwargs):
        self.item_validator = item_validator
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", MAX_LIST_ITEMS * (MAX_ITEM_LENGTH + 2))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        items = list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
        if len(items) > MAX_LIST_ITEMS:
            raise ValidationError(f"At most {MAX_LIST_ITEMS} lines, please.")
        for item in items:
            if len(item) > MAX_ITEM_LENGTH:
                raise ValidationError(f"Each line may be at most {MAX_ITEM_LENGTH} characters.")
            if has_control_character(item):
                raise ValidationError("A line holds a control character: use plain text.")
            if self.item_validator:
                self.item_validator(item)
        return items


class TenantForm(forms.ModelForm):
    slug = forms.SlugField(max_length=60, required=False, help_text="Blank: made from the name.")
    other_domains = LinesField(item_validator=None, help_text="Other verified domains, one a line.")
    tags = forms.CharField(required=False, max_length=300, help_text="Comma separated.")
    time_zone = forms.ChoiceField(choices=[])
    default_usage_location = forms.CharField(
        max_length=20, initial="GB", help_text="A country code, e.g. GB (not UK)"
    )

    class Meta:
        model = Tenant
        fields = [
            "name",
            "slug",
            "primary_domain",
            "other_domains",
            "default_usage_location",
            "time_zone",
            "tags",
            "notes",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zones = sorted(zoneinfo.available_timezones())
        self.fields["time_zone"].choices = [(z, z) for z in zones]
        self.fields["name"].validators.append(no_markup)
        self.fields["notes"].validators.append(no_markup)
        # Always: a new tenant's default list would otherwise show (and save) as "[]".
        self.initial["tags"] = ", ".join(self.instance.tags or [])

    def clean_primary_domain(self) -> str:
        return clean_domain(self.cleaned_data["primary_domain"])

    def clean_other_domains(self) -> list[str]:
        return [clean_domain(d) for d in self.cleaned_data["other_domains"]]

    def clean_default_usage_location(self) -> str:
        return clean_usage_location(self.cleaned_data["default_usage_location"], required=True)

    def clean_tags(self) -> list[str]:
        tags = [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]
        for tag in tags:
            no_markup(tag)
        return list(dict.fromkeys(tags))

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        slugs.require_unreserved(slug)
        return slug

    def clean(self):
        data = super().clean()
        if not data.get("slug") and data.get("name") and "slug" not in self.errors:
            data["slug"] = slugs.free_slug(data["name"], taken=self._slug_taken)
            if not data["slug"]:
                self.add_error("slug", "Choose a slug: the name has no letters to make one.")
        return data

    def _slug_taken(self, slug: str) -> bool:
        return Tenant.objects.exclude(pk=self.instance.pk).filter(slug=slug).exists()


def clean_usage_location(value: str, required: bool = False) -> str:
    code = (value or "").strip().upper()
    if not code and not required:
        return ""
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise ValidationError("Use a two-letter country code such as GB, US or DE.")
    if problem := country_code_problem(code):
        raise ValidationError(problem)
    return code


class SecretInput(forms.PasswordInput):
    def __init__(self):
        super().__init__(render_value=False, attrs={"autocomplete": "new-password"})


class ConnectionForm(forms.ModelForm):
    """The fields both kinds share; the secret is write-only. A blank secret keeps the stored
    one only while the ids and endpoints it was entered for stay the same."""

    secret = forms.CharField(widget=SecretInput(), required=False, max_length=2000, strip=True)
    secret_label = "Secret"  # noqa: S105 - a label
    expiry_help = EXPIRY_HELP  # Entra's form says where its date comes from
    bound_fields: tuple[str, ...] = ()  # what the secret is bound to (DirectoryConnection)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret"].label = self.secret_label
        if self.instance.has_secret:
            self.fields["secret"].help_text = "Leave blank to keep the stored value."
        self.fields["secret_expires_on"].widget = forms.DateInput(attrs={"type": "date"})
        self.fields["secret_expires_on"].label = "Credential expires on"
        self.fields["secret_expires_on"].help_text = self.expiry_help

    def clean_secret(self) -> str:
        secret = self.cleaned_data["secret"]
        if not secret and not self.instance.has_secret:
            raise ValidationError(f"Enter the {self.secret_label.lower()}.")
        return secret

    def clean(self):
        data = super().clean()
        changed = self.changed_bound_fields(data)
        if changed and not data.get("secret") and "secret" not in self.errors:
            names = ", ".join(str(self.fields[name].label) for name in changed)
            self.add_error(
                "secret",
                f"{names} changed: enter the {self.secret_label} again. A stored secret is "
                "only ever sent to the IDs and endpoints it was entered for.",
            )
        return data

    def changed_bound_fields(self, data: dict) -> list[str]:
        """Bound fields whose submitted value differs from the stored one (URLs compared in
        their normal form). A field that failed validation counts as unchanged."""
        if self.instance.pk is None:
            return []
        return [
            name
            for name in self.bound_fields
            if name in data
            and _bound_value(name, data[name]) != _bound_value(name, getattr(self.instance, name))
        ]


def _bound_value(name: str, value) -> str:
    """A bound field's value as the secret's binding sees it (tenants.endpoints)."""
    text = str(value or "")
    return endpoints.canonical(text) if name.endswith("_url") else text.strip().lower()


def url_field(**kwargs) -> forms.URLField:
    return forms.URLField(assume_scheme="https", max_length=200, **kwargs)


def allowed_endpoint(service: endpoints.Service, url: str) -> str:
    """`url` in its normal form when a credential may go there; "" stays ""."""
    if not url:
        return ""
    try:
        return endpoints.check_allowed(service, url).url
    except endpoints.EndpointError as exc:
        raise ValidationError(str(exc)) from None


class EntraConnectionForm(ConnectionForm):
    secret_label = "Client secret"  # noqa: S105 - a label
    expiry_help = ENTRA_EXPIRY_HELP
    bound_fields = ("directory_id", "client_id", "login_base_url", "graph_base_url")
    login_base_url = url_field(
        label="Sign-in URL",
        required=False,
        help_text="Blank: https://login.microsoftonline.com. Only for a national cloud "
        "(e.g. https://login.microsoftonline.us) or the sandbox.",
    )
    graph_base_url = url_field(
        label="Graph URL",
        required=False,
        help_text="Blank: https://graph.microsoft.com. Only for a national cloud "
        "(e.g. https://graph.microsoft.us) or the sandbox.",
    )

    class Meta:
        model = DirectoryConnection
        fields = [
            "directory_id",
            "client_id",
            "secret",
            "secret_expires_on",
            "login_base_url",
            "graph_base_url",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["directory_id"].required = True
        self.fields["client_id"].required = True

    def clean_directory_id(self) -> str:
        value = self.cleaned_data["directory_id"].strip().lower()
        if _is_uuid(value) or DOMAIN_RE.match(value):
            return value
        raise ValidationError(
            "Use the directory ID (a GUID) or the tenant's .onmicrosoft.com domain."
        )

    def clean_client_id(self) -> str:
        value = self.cleaned_data["client_id"].strip().lower()
        if not _is_uuid(value):
            raise ValidationError("The application (client) ID is a GUID, e.g. 1f2e3d4c-....")
        return value

    def clean_login_base_url(self) -> str:
        return allowed_endpoint(endpoints.Service.ENTRA_LOGIN, self.cleaned_data["login_base_url"])

    def clean_graph_base_url(self) -> str:
        return allowed_endpoint(endpoints.Service.ENTRA_GRAPH, self.cleaned_data["graph_base_url"])


class OktaConnectionForm(ConnectionForm):
    secret_label = "API token"  # noqa: S105 - a label
    bound_fields = ("org_url",)
    org_url = url_field(label="Org URL", help_text="e.g. https://fabrikam.okta.com")

    class Meta:
        model = DirectoryConnection
        fields = ["org_url", "secret", "secret_expires_on"]

    def clean_org_url(self) -> str:
        return allowed_endpoint(endpoints.Service.OKTA_ORG, self.cleaned_data["org_url"])


class ScimConnectionForm(ConnectionForm):
    """A SCIM 2.0 app: its base URL and a bearer token, or OAuth client credentials."""

    secret_label = "Token or client secret"  # noqa: S105 - a label
    bound_fields = ("scim_base_url", "scim_auth", "scim_token_url", "client_id")
    scim_base_url = url_field(
        label="SCIM base URL", help_text="e.g. https://api.slack.com/scim/v2 (the vendor's docs)"
    )
    scim_token_url = url_field(
        label="OAuth token URL", required=False, help_text="Only for OAuth client credentials."
    )

    class Meta:
        model = DirectoryConnection
        fields = [
            "name",
            "scim_base_url",
            "scim_auth",
            "scim_token_url",
            "client_id",
            "secret",
            "secret_expires_on",
            "scim_profile",
        ]
        labels = {"client_id": "OAuth client ID"}
        help_texts = {
            "name": "How people call it, e.g. Slack. Role templates name it.",
            "client_id": "Only for OAuth client credentials.",
            "scim_profile": "Known quirks beyond what the app declares; Test connection "
            "reads the rest from the app.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = True
        self.fields["name"].validators.append(no_markup)
        self.fields["secret"].help_text = (
            "The bearer token, or the OAuth client secret. " + self.fields["secret"].help_text
        )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = DirectoryConnection.objects.filter(
            tenant=self.instance.tenant, kind=DirectoryConnection.Kind.SCIM, name__iexact=name
        )
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError("This tenant has a SCIM app of this name already.")
        return name

    def clean_scim_base_url(self) -> str:
        return allowed_endpoint(endpoints.Service.SCIM_APP, self.cleaned_data["scim_base_url"])

    def clean_scim_token_url(self) -> str:
        return allowed_endpoint(endpoints.Service.SCIM_APP, self.cleaned_data["scim_token_url"])

    def clean_client_id(self) -> str:
        return self.cleaned_data["client_id"].strip()

    def clean(self):
        data = super().clean()
        if data.get("scim_auth") == DirectoryConnection.ScimAuth.OAUTH:
            for name in ("scim_token_url", "client_id"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, "Needed for OAuth client credentials.")
        else:  # a bearer token: nothing of OAuth's is kept
            data["scim_token_url"] = data["client_id"] = ""
        return data


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


CONNECTION_FORMS = {
    DirectoryConnection.Kind.ENTRA: EntraConnectionForm,
    DirectoryConnection.Kind.OKTA: OktaConnectionForm,
    DirectoryConnection.Kind.SCIM: ScimConnectionForm,
}


class RolePrefillForm(forms.Form):
    """A new role template's name and access from the query string (the adopt preview's
    "Make a role template of it" link); the role form only starts from it, nothing is saved."""

    name = forms.CharField(required=False, max_length=80, validators=[no_markup])
    groups = LinesField()
    licenses = LinesField()
    apps = LinesField()
    back = forms.ChoiceField(required=False, choices=[("", ""), ("adopt", "the adopt preview")])

    def prefill(self) -> dict:
        """The valid values given; nothing when any is not valid (the empty form)."""
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


class RoleTemplateForm(forms.ModelForm):
    groups = LinesField(help_text="Group names or object IDs, one a line.")
    licenses = LinesField(label="Licences", help_text="SKU part numbers or SKU IDs, one a line.")
    apps = LinesField(
        help_text="Application names or IDs, one a line; “App / Role” names the app role a "
        "joiner gets where the app has several for users."
    )
    usage_location = forms.CharField(
        required=False, max_length=20, help_text="A country code, e.g. GB (not UK)"
    )
    domain = forms.ChoiceField(
        required=False,
        error_messages={"invalid_choice": "“%(value)s” is not one of this tenant's domains."},
    )

    class Meta:
        model = RoleTemplate
        fields = [
            "name",
            "description",
            "groups",
            "licenses",
            "apps",
            "department",
            "job_title",
            "usage_location",
            "company",
            "office",
            "username_rule",
            "domain",
        ]

    def __init__(self, *args, tenant: Tenant | None, as_read: dict | None = None, **kwargs):
        """`as_read`: the template's fields as this page reads them, carried in the form."""
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        if as_read is not None:
            self.fields["as_read"] = forms.CharField(
                widget=forms.HiddenInput, required=False, initial=self._signed(as_read)
            )
        for name in ("name", "description"):
            self.fields[name].validators.append(no_markup)
        # What the template gives its joiners: a person's attributes in the directories, under
        # the one rule for them (formulas too: the directories' own exports carry them).
        for name in ("department", "job_title", "company", "office"):
            self.fields[name].validators.append(plain_name)
        if tenant:
            domains = tenant.domains
            self.fields["domain"].choices = [("", f"Primary ({domains[0]})")] + [
                (d, d) for d in domains
            ]
        else:
            self.fields["domain"].widget = forms.HiddenInput()
            self.fields["domain"].choices = [("", "")]
        self.scim_apps = self._scim_app_fields(tenant)

    def _scim_app_fields(self, tenant: Tenant | None) -> list[tuple[str, str]]:
        """A box and a list of groups for each SCIM app of the tenant: (box, groups) names."""
        if tenant is None:
            return []
        apps = tenant.connections.filter(kind=DirectoryConnection.Kind.SCIM).order_by("name")
        names = []
        for app in apps:
            groups = self.instance.scim_groups_for(app.pk)
            box, lines = f"scim_{app.pk}", f"scim_{app.pk}_groups"
            self.fields[box] = forms.BooleanField(
                label=f"Give {app.name}", required=False, initial=groups is not None
            )
            self.fields[lines] = LinesField(
                label=f"Groups in {app.name}",
                required=False,
                initial=groups or [],
                help_text="Group names in the app, one a line.",
            )
            names.append((box, lines))
        return names

    @property
    def scim_app_fields(self) -> list[tuple]:
        """The bound fields of each SCIM app, for the template."""
        return [(self[box], self[lines]) for box, lines in self.scim_apps]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = RoleTemplate.objects.filter(tenant=self.tenant, name__iexact=name)
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError("A role template with this name exists already.")
        return name

    def clean_usage_location(self) -> str:
        return clean_usage_location(self.cleaned_data["usage_location"])

    def clean(self):
        data = super().clean()
        chosen = []
        for box, lines in self.scim_apps:
            groups = data.get(lines) or []
            if data.get(box):
                chosen.append({"connection": int(box.split("_")[1]), "groups": groups})
            elif groups and lines not in self.errors:
                self.add_error(lines, "Tick the app too, or remove its groups.")
        self.instance.scim_apps = chosen
        return data

    def clean_as_read(self) -> dict | None:
        """The template as the form's page read it; None (read it now) when the form carries
        none or one not ours."""
        try:
            return signing.loads(self.cleaned_data["as_read"], salt=self._salt())
        except signing.BadSignature:
            return None

    def read_again(self, as_read: dict) -> None:
        """Carry `as_read` from now on: the form shown again after a refused save."""
        self.data = self.data.copy()
        self.data["as_read"] = self._signed(as_read)

    def _signed(self, as_read: dict) -> str:
        return signing.dumps(as_read, salt=self._salt())

    def _salt(self) -> str:
        return f"role-template-as-read:{self.instance.pk}"

    def clean_username_rule(self) -> str:
        rule = self.cleaned_data["username_rule"].strip()
        try:
            naming.validate_rule(rule)
        except naming.NamingRuleError as exc:
            raise ValidationError(str(exc)) from None
        return rule


class UsernamePreviewForm(forms.Form):
    username_rule = forms.CharField(max_length=120)
    domain = forms.CharField(max_length=253, required=False)
