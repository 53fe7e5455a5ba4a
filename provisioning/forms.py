"""The onboarding form (the licence choices its dry run asks for are provisioning/seats.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import cached_property

from portal.countries import country_code_problem, three_letter_problem
from portal.fields import BoundedDateField, BoundedModelMultipleChoiceField
from portal.plain_text import plain_name
from provisioning.models import Identity
from provisioning.name_bounds import (
    directory_kinds,
    longest_name,
    name_too_long,
    username_too_long,
)
from provisioning.seats import (
    LICENSE_CHOICE_PREFIX,
    LicenseChoice,
    license_options,
    posted_license_choices,
)
from provisioning.services import OnboardingRequest, start_date_is_sane
from tenants import clock, naming
from tenants.forms import LinesField
from tenants.models import RoleTemplate, Tenant

MAX_PAST_DAYS = 30
MAX_AHEAD_DAYS = 365
# At most 64 characters before the @, and no period just before it: Entra refuses such a UPN
# (learn.microsoft.com/entra/identity/authentication/concept-sspr-policy, UPN policies), and
# it is no e-mail address for Okta's login either.
USERNAME_RE = re.compile(r"^(?=[^@]{1,64}@)[a-z0-9](?:[a-z0-9._-]*[a-z0-9_-])?@[a-z0-9.-]+$")
USAGE_LOCATION_RE = re.compile(r"^[A-Za-z]{2}$")


def role_templates_field() -> BoundedModelMultipleChoiceField:
    """The tenant's role templates as checkboxes (the view sets the queryset)."""
    return BoundedModelMultipleChoiceField(
        queryset=RoleTemplate.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Role templates",
        error_messages={
            "required": "Choose at least one role template.",
            "invalid_choice": "That role template is not one of this tenant's.",
            "invalid_pk_value": "That role template is not one of this tenant's.",
        },
    )


def usage_location_cleaned(value: str) -> str:
    """A person's usage location as the onboarding and change forms take it: blank, or a
    two-letter ISO 3166 code (upper case); a three-letter code is told as such."""
    value = value.strip()
    if problem := three_letter_problem(value):
        raise ValidationError(problem)
    if value and not USAGE_LOCATION_RE.match(value):
        raise ValidationError("Two letters, such as GB or US.")
    if value and (problem := country_code_problem(value.upper())):
        raise ValidationError(problem)
    return value.upper()


class OnboardingForm(forms.Form):
    first_name = forms.CharField(max_length=64, validators=[plain_name])
    last_name = forms.CharField(max_length=64, validators=[plain_name])
    role_templates = role_templates_field()
    start_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=f"From {MAX_PAST_DAYS} days ago to a year ahead.",
    )
    username = forms.CharField(
        max_length=254,
        required=False,
        label="Username override",
        help_text="Blank: the role's naming rule decides. Must be in one of the tenant's domains.",
    )
    department = forms.CharField(max_length=64, required=False, validators=[plain_name])
    job_title = forms.CharField(max_length=128, required=False, validators=[plain_name])
    manager = forms.CharField(
        max_length=160,
        required=False,
        validators=[plain_name],
        help_text="Username, or the name the directory shows: it is set as their manager there "
        "and must match exactly one account (the dry run names the candidates otherwise).",
    )
    usage_location = forms.CharField(
        max_length=16,  # longer than a code, so a three-letter one is told as such (clean)
        required=False,
        help_text="A country code, e.g. GB (not UK). Blank: the role's.",
    )
    extra_groups = LinesField(label="Extra groups", help_text="One group a line.")
    different_person = forms.BooleanField(
        required=False,
        label="Another person of the same name",
        help_text="Only when someone of this name is in the portal already and this joiner is "
        "not them: they get a numbered username.",
    )

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["role_templates"].queryset = RoleTemplate.objects.filter(
            tenant=tenant
        ).select_related("tenant")
        # The tenant's today, not the server's (UTC): a later day made the joiner one
        # created ahead, unable to sign in until it came.
        self.fields["start_date"].initial = clock.tenant_today(tenant)

    def clean_first_name(self) -> str:
        return self._name("first_name")

    def clean_last_name(self) -> str:
        return self._name("last_name")

    def _name(self, key: str) -> str:
        value = " ".join(self.cleaned_data[key].split())
        if not value:
            raise ValidationError("This field is required.")
        if problem := name_too_long(value, longest_name(self.kinds)):
            raise ValidationError(problem)
        return value

    @cached_property
    def kinds(self) -> frozenset[str]:
        return directory_kinds(self.tenant)

    def clean_start_date(self):
        start = self.cleaned_data["start_date"]
        if not start_date_is_sane(start, MAX_PAST_DAYS):
            raise ValidationError(
                f"The start date is more than {MAX_PAST_DAYS} days in the past. "
                "Check the date; a late joiner starts today."
            )
        if start > timezone.localdate() + timedelta(days=MAX_AHEAD_DAYS):
            raise ValidationError("The start date is more than a year ahead.")
        return start

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip().lower()
        if not username:
            return ""
        if not USERNAME_RE.match(username):
            raise ValidationError(
                "Use a username such as ada.lovelace@contoso.com: letters, digits, . _ - "
                "before the @ (not a . just before it)."
            )
        domain = username.split("@", 1)[1]
        if domain not in [d.lower() for d in self.tenant.domains]:
            raise ValidationError(
                f"{domain} is not one of this tenant's domains ({', '.join(self.tenant.domains)})."
            )
        if problem := username_too_long(username, self.kinds):
            raise ValidationError(problem)
        if Identity.objects.filter(tenant=self.tenant, username__iexact=username).exists():
            raise ValidationError(f"{username} belongs to another person in this portal already.")
        return username

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("username") and "username" not in self.errors:
            self._check_rule_username(data)
        return data

    def _check_rule_username(self, data: dict) -> None:
        """The naming rule's username must fit the directories too: refused here, not by
        a directory halfway through the job."""
        names = (data.get("first_name"), data.get("last_name"))
        if not (data.get("role_templates") and all(names)):
            return
        template = list(data["role_templates"])[0]
        try:
            username = naming.render(template.username_rule, *names, template.effective_domain)
        except naming.NamingRuleError as exc:
            self.add_error(
                "username",
                f"No username from the naming rule of {template}: {exc} "
                "Enter one under Username override.",
            )
            return
        if problem := username_too_long(username, self.kinds):
            self.add_error(
                "username",
                f"The naming rule of {template} gives {username}. {problem} "
                "Enter a shorter username here.",
            )
        elif not data.get("different_person"):
            self._check_not_onboarded_already(username, *names)

    def _check_not_onboarded_already(self, username: str, first: str, last: str) -> None:
        """The person of the same name at the naming rule's address is this joiner, sent
        again (a second click, the back button): refused, as the CSV import refuses it, rather
        than given a numbered username and a second account in every directory."""
        person = Identity.objects.filter(tenant=self.tenant, username__iexact=username).first()
        if person is None or naming.full_name(person.first_name, person.last_name) != (
            naming.full_name(first, last)
        ):
            return
        back = {
            Identity.Status.LEFT: " To bring them back, use Restore on their page.",
            Identity.Status.DELETED: " To bring them back, use Rehire on their page.",
        }.get(person.status, "")
        self.add_error(
            "different_person",
            f"{person.display_name} is in this portal already as {person.username} "
            f"({person.get_status_display().lower()}).{back} Tick this box only if this joiner "
            "is another person.",
        )

    def clean_usage_location(self) -> str:
        return usage_location_cleaned(self.cleaned_data["usage_location"])

    def onboarding_request(self, license_choices: dict | None = None) -> OnboardingRequest:
        data = self.cleaned_data
        attributes = {
            name: data[name]
            for name in ("department", "job_title", "manager", "usage_location")
            if data.get(name)
        }
        return OnboardingRequest(
            first_name=data["first_name"],
            last_name=data["last_name"],
            role_templates=list(data["role_templates"]),
            start_date=data["start_date"],
            username=data["username"],
            attributes=attributes,
            extra_groups=data["extra_groups"],
            license_choices=license_choices or {},
        )


class TenantPickForm(forms.Form):
    """The onboarding picker's ``?tenant=``: a slug, so that it can go into a URL (whether
    the person may onboard there is the onboarding page's question, not this form's)."""

    tenant = forms.SlugField(max_length=60, required=False)


class HoldForm(forms.Form):
    """Why an MSP admin holds a connection in quarantine (shown on the tenant's page)."""

    reason = forms.CharField(max_length=200, required=False, validators=[plain_name])


class OnboardingPrefillForm(forms.Form):
    """The onboarding form's initial values from a link's query string (a client admin's
    request to act links here): a value that does not parse is left out."""

    first_name = forms.CharField(max_length=128, required=False)
    last_name = forms.CharField(max_length=128, required=False)
    start_date = BoundedDateField(required=False)
    job_title = forms.CharField(max_length=128, required=False)
    department = forms.CharField(max_length=128, required=False)
    role_templates = BoundedModelMultipleChoiceField(
        queryset=RoleTemplate.objects.none(), required=False
    )

    def __init__(self, data, *, tenant: Tenant):
        super().__init__(data)
        self.fields["role_templates"].queryset = RoleTemplate.objects.filter(tenant=tenant)

    def prefill(self) -> dict:
        self.is_valid()
        values = {name: value for name, value in self.cleaned_data.items() if value}
        if "role_templates" in values:
            values["role_templates"] = [str(t.pk) for t in values["role_templates"]]
        return values


class JobChoiceForm(forms.Form):
    """The answer to a job that stopped for a choice: per SKU without a free seat, one of the
    options the onboarding form offers for it (`license_options`), with the seats the job's
    read found."""

    def __init__(self, data, *, job):
        super().__init__(data)
        self.questions = []
        for choice in job.options.get("choices", []):
            if choice["kind"] != "no_seat" or choice["subject"] in self.fields:
                continue
            sku = choice["subject"]
            options = license_options(sku, choice.get("availability", {}))
            self.fields[LICENSE_CHOICE_PREFIX + sku] = forms.ChoiceField(
                choices=options, label=choice["message"]
            )
            self.questions.append(LicenseChoice(sku, options, ""))

    def license_choices(self) -> dict[str, str]:
        return posted_license_choices(self.cleaned_data)
