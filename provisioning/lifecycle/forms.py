"""Forms of the lifecycle pages: offboarding, movers, and a tenant's lifecycle settings.

Dates and times are typed in the tenant's time zone (wall clock), never the server's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import BaseTemporalField
from django.utils import timezone

from portal.plain_text import plain_name
from provisioning.forms import role_templates_field, usage_location_cleaned
from provisioning.lifecycle import handover_recipient
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity
from tenants import clock
from tenants.forms import MAX_ITEM_LENGTH, MAX_LIST_ITEMS, LinesField, no_markup
from tenants.lifecycle_settings import PRESET_FIELDS
from tenants.models import OffboardingPreset, RoleTemplate, Tenant

MAX_AHEAD_DAYS = 365
MAX_DELETE_AFTER_DAYS = 3650
DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
OKTA_MODE_HELP = (
    "Suspend blocks sign-in and keeps the person's app assignments, so a return is quick. "
    "Deactivate also drops every app assignment (the apps deprovision the account) and is "
    "the step before Okta can delete the user."
)
DELETE_HELP = (
    "Blank: keep the disabled account. Otherwise the account is deleted that many days after "
    "the offboarding: Entra ID soft-deletes it and then purges it; Okta deactivates it and then "
    "deletes it. The deletion waits on the schedule and can be cancelled until it runs."
)
CHANGE_ATTRIBUTES = ("department", "job_title", "office", "usage_location")
MAX_AUTO_REPLY = 2000
# Entra ID only: Graph reaches Exchange Online and OneDrive; Okta has neither.
MAIL_FIELDS = (
    "auto_reply",
    "auto_reply_message",
    "forward_to_manager",
    "files_to_manager",
    "convert_to_shared_mailbox",
    "hide_from_address_list",
)
HANDOVER_LABELS = {
    "auto_reply": "Turn on an automatic reply",
    "auto_reply_message": "Automatic reply",
    "forward_to_manager": "Forward new mail to their manager",
    "files_to_manager": "Give their manager write access to their OneDrive",
    "reassign_reports": "Give their direct reports to their manager",
    "convert_to_shared_mailbox": "Checklist: convert the mailbox to a shared mailbox",
    "hide_from_address_list": "Checklist: hide them from the global address list",
}
HANDOVER_HELP = {
    "auto_reply_message": "Plain text, sent to senders inside and outside the organisation.",
    "forward_to_manager": "An inbox rule on the leaver's mailbox; the manager is the one the "
    "directory holds.",
    "files_to_manager": "Shared without an invitation e-mail; Microsoft 365 also gives the manager "
    "the OneDrive when the account is deleted.",
    "reassign_reports": "Each direct report's manager becomes the leaver's own manager; with "
    "none, the dry run names them.",
    "convert_to_shared_mailbox": "Only Exchange can do it (PowerShell or the admin center): the "
    "job lists it for you. Do it before the licence goes.",
    "hide_from_address_list": "Only Exchange can do it: the job lists it for you.",
}


def handover_checkbox(name: str) -> forms.BooleanField:
    return forms.BooleanField(
        required=False, label=HANDOVER_LABELS[name], help_text=HANDOVER_HELP[name]
    )


def auto_reply_field() -> forms.CharField:
    return forms.CharField(
        required=False,
        max_length=MAX_AUTO_REPLY,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_markup],
        label=HANDOVER_LABELS["auto_reply_message"],
        help_text=HANDOVER_HELP["auto_reply_message"],
    )


def check_auto_reply(form: forms.Form, data: dict) -> None:
    """An automatic reply needs its text; the text alone does nothing."""
    if data.get("auto_reply") and not (data.get("auto_reply_message") or "").strip():
        form.add_error("auto_reply_message", "Write the reply, or turn the automatic reply off.")


class WallClockDateTimeField(forms.DateTimeField):
    """A naive date-time exactly as typed: the form, not the server's zone, decides its zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", DATETIME_FORMATS)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)
        return BaseTemporalField.to_python(self, str(value)[:40])


def clean_future(tenant: Tenant, local: datetime) -> datetime:
    """The aware instant of a wall-clock time in the tenant's zone, if it is ahead (and not
    more than a year ahead)."""
    at = clock.tenant_datetime(tenant, local)
    now = timezone.now()
    if at <= now:
        here = now.astimezone(clock.tenant_zone(tenant))
        raise ValidationError(
            f"That time has passed: it is {here.day} {here:%b %Y %H:%M} now in {tenant.time_zone}. "
            "Choose a later time, or “now”."
        )
    if at > now + timedelta(days=MAX_AHEAD_DAYS):
        raise ValidationError("That is more than a year ahead.")
    return at


class NamesField(forms.Field):
    """Several checkbox values of one name (group names offered by the dry run)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_python(self, value) -> list[str]:
        if not value:
            return []
        names = [str(v).strip() for v in (value if isinstance(value, list | tuple) else [value])]
        names = list(dict.fromkeys(n for n in names if n))
        if len(names) > MAX_LIST_ITEMS or any(len(n) > MAX_ITEM_LENGTH for n in names):
            raise ValidationError("Too many or too long group names.")
        for name in names:
            no_markup(name)
        return names


def delete_after_days_field() -> forms.IntegerField:
    return forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_DELETE_AFTER_DAYS,
        label="Delete the account after (days)",
        help_text=DELETE_HELP,
        error_messages={
            "min_value": "Use a number of days from 0 up, or leave it blank to keep the account.",
            "invalid": "Use a whole number of days, or leave it blank to keep the account.",
        },
    )


class OffboardingForm(forms.Form):
    WHEN = [("now", "Now"), ("at", "At a date and time")]

    block_sign_in = forms.BooleanField(required=False, label="Block sign-in")
    okta_mode = forms.ChoiceField(
        choices=OffboardingPreset.OktaMode.choices,
        widget=forms.RadioSelect,
        label="In Okta",
        help_text=OKTA_MODE_HELP,
    )
    revoke_sessions = forms.BooleanField(required=False, label="Revoke sessions and refresh tokens")
    reset_password = forms.BooleanField(
        required=False,
        label="Reset the password to a random secret",
        help_text="Nobody sees it and the portal does not keep it.",
    )
    remove_groups = forms.BooleanField(required=False, label="Remove from groups")
    # Ticked in the dry run, among the person's groups it would remove (the preset's kept
    # groups start ticked); a kept group is kept by name in every directory.
    keep_group = NamesField(label="Keep these groups")
    remove_licenses = forms.BooleanField(required=False, label="Remove licences")
    remove_apps = forms.BooleanField(required=False, label="Remove app assignments")
    auto_reply = forms.BooleanField(required=False, label=HANDOVER_LABELS["auto_reply"])
    auto_reply_message = auto_reply_field()
    forward_to_manager = handover_checkbox("forward_to_manager")
    files_to_manager = handover_checkbox("files_to_manager")
    reassign_reports = handover_checkbox("reassign_reports")
    convert_to_shared_mailbox = handover_checkbox("convert_to_shared_mailbox")
    hide_from_address_list = handover_checkbox("hide_from_address_list")
    delete_after_days = delete_after_days_field()
    when = forms.ChoiceField(choices=WHEN, widget=forms.RadioSelect, initial="now")
    at = WallClockDateTimeField(required=False, label="Date and time")

    def __init__(self, *args, identity: Identity, check_recipient: bool = True, **kwargs):
        self.identity = identity
        self.tenant = identity.tenant
        self.check_recipient = check_recipient  # off for the htmx dry run: it says so itself
        preset = lifecycle.OffboardingOptions.preset_for(self.tenant)
        initial = preset.as_dict() | {"when": "now", "keep_group": preset.keep_groups}
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.has_okta = self.tenant.connections.filter(kind="okta").exists()
        self.preset = preset
        if not self.has_okta:
            del self.fields["okta_mode"]
        self.has_entra = self.tenant.connections.filter(kind="entra").exists()
        if not self.has_entra:
            for name in MAIL_FIELDS:
                del self.fields[name]
        self.fields["at"].help_text = f"In the tenant's time zone, {self.tenant.time_zone}."

    def clean(self):
        data = super().clean()
        if data.get("when") == "at":
            if data.get("at") is None:
                if "at" not in self.errors:
                    self.add_error("at", "Give the date and time, or choose “now”.")
            else:
                try:
                    data["at"] = clean_future(self.tenant, data["at"])
                except ValidationError as error:
                    self.add_error("at", error)
        else:
            data["at"] = None
        check_auto_reply(self, data)
        actions = ("block_sign_in", "revoke_sessions", "reset_password", "remove_groups")
        actions += ("remove_licenses", "remove_apps", "reassign_reports")
        actions += tuple(name for name in MAIL_FIELDS if name != "auto_reply_message")
        if not any(data.get(name) for name in actions):
            raise ValidationError("Choose at least one thing the offboarding should do.")
        if refused := self._recipient_refused():
            raise ValidationError(refused)
        return data

    def _recipient_refused(self) -> str:
        """Whether the manager may have the leaver's mail and files, read from Entra now."""
        if not (self.check_recipient and self.has_entra) or self.errors:
            return ""
        return handover_recipient.refusal(self.identity, self.options())

    @property
    def kept_groups(self) -> list[str]:
        """The ticked groups as posted, or the preset's before anything was posted."""
        if not self.is_bound:
            return list(self.initial.get("keep_group") or [])
        return list(getattr(self, "cleaned_data", {}).get("keep_group") or [])

    def options(self) -> lifecycle.OffboardingOptions:
        data = self.cleaned_data
        return lifecycle.OffboardingOptions(
            block_sign_in=data["block_sign_in"],
            okta_mode=data.get("okta_mode") or self.preset.okta_mode,
            revoke_sessions=data["revoke_sessions"],
            reset_password=data["reset_password"],
            remove_groups=data["remove_groups"],
            keep_groups=self.kept_groups if data["remove_groups"] else [],
            remove_licenses=data["remove_licenses"],
            remove_apps=data["remove_apps"],
            delete_after_days=data["delete_after_days"],
            reassign_reports=data["reassign_reports"],
            **self._mail_options(),
        )

    def _mail_options(self) -> dict:
        """The mail and files options as chosen; all off where there is no Entra ID."""
        data = self.cleaned_data
        if not self.has_entra:
            return dict.fromkeys(MAIL_FIELDS, False) | {"auto_reply_message": ""}
        chosen = {name: data[name] for name in MAIL_FIELDS}
        chosen["auto_reply_message"] = chosen["auto_reply_message"].strip()
        if not chosen["auto_reply"]:
            chosen["auto_reply_message"] = ""
        return chosen


class ChangeForm(forms.Form):
    role_templates = role_templates_field()
    department = forms.CharField(max_length=64, required=False, validators=[plain_name])
    job_title = forms.CharField(max_length=128, required=False, validators=[plain_name])
    office = forms.CharField(max_length=128, required=False, validators=[plain_name])
    usage_location = forms.CharField(
        max_length=16,  # longer than a code, so a three-letter one is told as such (clean)
        required=False,
        help_text="A country code, e.g. GB (not UK). Blank: the role's.",
    )
    extra_groups = LinesField(label="Extra groups", help_text="One group a line.")
    at = WallClockDateTimeField(required=False, label="Effective at", help_text="Blank: now.")

    def __init__(self, *args, identity: Identity, **kwargs):
        self.identity = identity
        self.tenant = identity.tenant
        initial = {name: identity.attributes.get(name, "") for name in CHANGE_ATTRIBUTES}
        initial |= {
            "role_templates": list(identity.role_templates.all()),
            "extra_groups": identity.extra_groups,
        }
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.fields["role_templates"].queryset = RoleTemplate.objects.filter(tenant=self.tenant)
        if not initial["role_templates"]:
            # adopted with no role (bulk adoption's choice when no template fits): changing
            # their department must not force a role on them, whose access it would add
            self.fields["role_templates"].required = False
        self.fields[
            "at"
        ].help_text = f"Blank: now. In the tenant's time zone, {self.tenant.time_zone}."

    def clean_usage_location(self) -> str:
        return usage_location_cleaned(self.cleaned_data["usage_location"])

    def clean_at(self):
        local = self.cleaned_data["at"]
        return None if local is None else clean_future(self.tenant, local)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        identity = self.identity
        same_templates = {t.pk for t in data["role_templates"]} == {
            t.pk for t in identity.role_templates.all()
        }
        if (
            same_templates
            and self.attributes() == {k: v for k, v in identity.attributes.items() if v}
            and data["extra_groups"] == list(identity.extra_groups)
        ):
            raise ValidationError("Nothing differs from what the person has now.")
        return data

    def attributes(self) -> dict:
        """The person's attributes with this form's overrides; a blank override falls back to
        the role's default."""
        merged = dict(self.identity.attributes)
        for name in CHANGE_ATTRIBUTES:
            merged[name] = self.cleaned_data.get(name, "")
        return {k: v for k, v in merged.items() if v not in (None, "")}

    def change_request(self, license_choices: dict | None = None) -> lifecycle.ChangeRequest:
        """`license_choices`: the dry run's answers (SKU -> replacement, "" to go without),
        which go on top of the person's own as they are when the change is saved (under
        its lock, not as this form read them); none: theirs stay as they are. The change
        names what the form shows: an attribute it does not (a company SCIM or HR set
        while the submit's dry run read the directories) stays as it is then."""
        return lifecycle.ChangeRequest(
            role_templates=list(self.cleaned_data["role_templates"]),
            attributes=self.attributes(),
            extra_groups=self.cleaned_data["extra_groups"],
            license_choices=dict(license_choices) if license_choices else None,
            named=["role_templates", "extra_groups", *CHANGE_ATTRIBUTES],
        )


class PresetForm(forms.ModelForm):
    delete_after_days = delete_after_days_field()
    auto_reply_message = auto_reply_field()
    keep_groups = LinesField(
        label="Groups to keep",
        help_text="One group a line; kept when “Remove from groups” is on.",
    )

    class Meta:
        model = OffboardingPreset
        fields = PRESET_FIELDS
        labels = {
            "block_sign_in": "Block sign-in",
            "okta_mode": "In Okta",
            "revoke_sessions": "Revoke sessions and refresh tokens",
            "reset_password": "Reset the password to a random secret",
            "remove_groups": "Remove from groups",
            "remove_licenses": "Remove licences",
            "remove_apps": "Remove app assignments",
            **HANDOVER_LABELS,
        }
        help_texts = {"okta_mode": OKTA_MODE_HELP, **HANDOVER_HELP}
        widgets = {"okta_mode": forms.RadioSelect}

    def clean(self):
        data = super().clean()
        check_auto_reply(self, data)
        return data


class CircuitBreakerForm(forms.ModelForm):
    offboard_hold_percent = forms.IntegerField(
        min_value=1,
        max_value=100,
        label="Hold runs that offboard more than (% of managed people)",
    )
    offboard_hold_count = forms.IntegerField(
        min_value=1,
        max_value=100_000,
        label="… or more than (people)",
        help_text="Whichever is lower applies. A held run waits until an MSP admin confirms it.",
    )

    class Meta:
        model = Tenant
        fields = ["offboard_hold_percent", "offboard_hold_count", "link_existing_accounts"]
        labels = {"link_existing_accounts": "Link existing accounts"}
        help_texts = {
            "link_existing_accounts": (
                "When the directory already has a user with the new person's username, link "
                "that account and plan the difference instead of failing the onboarding."
            )
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # As saved: validating the form writes its input into the tenant.
        tenant = self.instance
        self.limits_before = (tenant.offboard_hold_percent, tenant.offboard_hold_count)

    @property
    def raises_a_limit(self) -> bool:
        """Whether the valid form lets a larger run go unheld than the tenant did: as much as
        confirming a held run, which asks for the password (attack20)."""
        percent, count = self.limits_before
        data = self.cleaned_data
        return data["offboard_hold_percent"] > percent or data["offboard_hold_count"] > count
