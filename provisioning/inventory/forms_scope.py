"""The takeover settings form: matching rule, scope rules and drift options, every value
bounded; lists one a line; groups chosen from the tenant's inventory catalogue."""

from __future__ import annotations

import hashlib
import json
import re

from django import forms
from django.core.exceptions import ValidationError

from portal.fields import BoundedIntegerField
from provisioning.inventory.models import Policy, Resource
from tenants.forms import MAX_LIST_ITEMS, LinesField, clean_domain, no_markup
from tenants.models import Tenant

MIN_STALE_DAYS, MAX_STALE_DAYS = 1, 3650
USER_TYPE_LENGTH = 40  # Account.user_type
DEPARTMENT_LENGTH = 200  # Account.department
PATTERN_LENGTH = 200
ATTRIBUTE_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,99}", re.ASCII)


def _at_most(length: int):
    def validate(value: str) -> None:
        no_markup(value)
        if len(value) > length:
            raise ValidationError(f"“{value[:40]}…” is longer than {length} characters.")

    return validate


def _domain(value: str) -> None:
    clean_domain(value.removeprefix("@"))


class PolicyForm(forms.Form):
    match_on = forms.ChoiceField(
        label="Match accounts to one person by",
        choices=Policy.MatchOn.choices,
        widget=forms.RadioSelect,
        help_text="Accounts in different directories with the same value are one person.",
    )
    match_attribute = forms.CharField(
        label="Attribute",
        required=False,
        max_length=100,
        help_text="With “another attribute”: its name as the directory spells it, "
        "e.g. extensionAttribute1 or costCenter.",
    )
    user_types = LinesField(
        label="User types",
        item_validator=_at_most(USER_TYPE_LENGTH),
        help_text="One a line, e.g. Member. Okta accounts have none and pass. Blank: any.",
    )
    domains = LinesField(
        label="Username domains",
        item_validator=_domain,
        help_text="One a line, e.g. contoso.com. Blank: any domain.",
    )
    departments = LinesField(
        label="Departments",
        item_validator=_at_most(DEPARTMENT_LENGTH),
        help_text="One a line, as the directory spells them (case does not matter). Blank: any.",
    )
    groups = forms.MultipleChoiceField(
        label="Members of any of these groups",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None chosen: group membership does not matter.",
    )
    enabled_only = forms.BooleanField(label="Only accounts that may sign in", required=False)
    excluded_patterns = LinesField(
        label="Never touch accounts named",
        item_validator=_at_most(PATTERN_LENGTH),
        widget=forms.Textarea(attrs={"rows": 11}),
        help_text="Patterns, one a line, over the username, its part before the @ and the "
        "display name: * is any text, ? one character, case does not matter "
        "(svc-*, *-admin, breakglass*).",
    )
    out_of_scope_action = forms.ChoiceField(
        label="When a managed person's account leaves scope",
        choices=Policy.OutOfScope.choices,
        widget=forms.RadioSelect,
        help_text="Leaving it as it is is the safe default, as Entra's provisioning skips "
        "out-of-scope deletions. Otherwise the person is offboarded; a run of many at once "
        "waits for an MSP admin (the circuit breaker).",
    )
    auto_converge = forms.BooleanField(
        label="Converge drift without a click",
        required=False,
        help_text="Off: drift waits on the drift report for a technician.",
    )
    stale_after_days = BoundedIntegerField(
        label="Stale after (days without a sign-in)",
        min_value=MIN_STALE_DAYS,
        max_value=MAX_STALE_DAYS,
    )
    # What the preview showed: saving other values than those previewed previews again.
    previewed = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, tenant: Tenant, policy: Policy, **kwargs):
        kwargs.setdefault("initial", initial_of(policy))
        super().__init__(*args, **kwargs)
        groups = group_choices(tenant, policy)
        self.group_names = {remote_id: name for remote_id, name, _ in groups}
        self.fields["groups"].choices = [(remote_id, label) for remote_id, _, label in groups]

    def clean_match_attribute(self) -> str:
        value = self.cleaned_data["match_attribute"].strip()
        if value and not ATTRIBUTE_RE.fullmatch(value):
            raise ValidationError("Use the attribute's name: letters, digits, _ and . only.")
        return value

    def clean_groups(self) -> list[dict]:
        chosen = self.cleaned_data["groups"]
        if len(chosen) > MAX_LIST_ITEMS:
            raise ValidationError(f"Choose at most {MAX_LIST_ITEMS} groups.")
        return [{"id": gid, "name": self.group_names[gid]} for gid in chosen]

    def clean_domains(self) -> list[str]:
        return [d.removeprefix("@").casefold() for d in self.cleaned_data["domains"]]

    def clean(self):
        data = super().clean()
        if data.get("match_on") == Policy.MatchOn.ATTRIBUTE and not data.get("match_attribute"):
            self.add_error("match_attribute", "Name the attribute to match on.")
        if data.get("match_on") not in (None, Policy.MatchOn.ATTRIBUTE):
            data["match_attribute"] = ""
        return data

    def policy_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "previewed"}


def initial_of(policy: Policy) -> dict:
    return {
        "match_on": policy.match_on,
        "match_attribute": policy.match_attribute,
        "user_types": policy.user_types,
        "domains": policy.domains,
        "departments": policy.departments,
        "groups": [g["id"] for g in policy.groups],
        "enabled_only": policy.enabled_only,
        "excluded_patterns": policy.excluded_patterns,
        "out_of_scope_action": policy.out_of_scope_action,
        "auto_converge": policy.auto_converge,
        "stale_after_days": policy.stale_after_days,
    }


def group_choices(tenant: Tenant, policy: Policy) -> list[tuple[str, str, str]]:
    """(id, name, label) of the groups the inventory has read in the tenant's directories,
    and of the groups the policy names already (kept choosable if a read no longer lists
    them)."""
    rows = (
        Resource.objects.filter(connection__tenant=tenant, kind="groups")
        .order_by("name", "pk")
        .values_list("remote_id", "name", "connection__kind")
    )
    several = tenant.connections.count() > 1
    found = {
        remote_id: (name, f"{name} ({KIND_NAMES.get(kind, kind)})" if several else name)
        for remote_id, name, kind in rows
    }
    for group in policy.groups:
        name = group.get("name") or group["id"]
        found.setdefault(group["id"], (name, f"{name} (not read lately)"))
    return [(remote_id, name, label) for remote_id, (name, label) in found.items()]


KIND_NAMES = {"entra": "Entra ID", "okta": "Okta"}


def fingerprint(data: dict, policy: Policy) -> str:
    """The values a preview showed, and the stored policy it compared them with."""
    text = json.dumps(
        [data, policy.updated_at.isoformat() if policy.updated_at else ""],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()
