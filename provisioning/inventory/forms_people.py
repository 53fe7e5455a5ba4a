"""The People page's query string: one search box, filters and a page position, each bounded
(a value out of range is a form error marked on the page, never a server error)."""

from __future__ import annotations

from django import forms

from portal.fields import BoundedIntegerField
from provisioning.inventory.forms_stale import IDLE_DAYS, idle_days_field
from tenants.models import Tenant

OLD_NAMES = {"idle": IDLE_DAYS}  # the filter's name before the stale report's was chosen


class PeopleFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        max_length=100,
        strip=True,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Name, username or e-mail",
                "autocomplete": "off",
            }
        ),
    )
    who = forms.ChoiceField(
        required=False,
        label="Managed",
        choices=[("", "Everyone"), ("managed", "Managed"), ("unmanaged", "Unmanaged")],
    )
    status = forms.ChoiceField(
        required=False,
        label="Sign-in",
        choices=[("", "Any"), ("enabled", "Enabled"), ("disabled", "Disabled")],
    )
    scope = forms.ChoiceField(
        required=False,
        label="Scope",
        choices=[("", "Any"), ("in", "In scope"), ("out", "Out of scope")],
    )
    licensed = forms.ChoiceField(
        required=False,
        label="Licences",
        choices=[("", "Any"), ("yes", "Licensed"), ("no", "No licence")],
    )
    idle_days = idle_days_field(widget=forms.NumberInput(attrs={"placeholder": "e.g. 90"}))
    directory = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    # The page position: the id of the row the page starts after (next) or ends before
    # (previous), ordered by name then id.
    after = BoundedIntegerField(required=False, widget=forms.HiddenInput)
    before = BoundedIntegerField(required=False, widget=forms.HiddenInput)

    FILTERS = ("q", "who", "status", "scope", "licensed", IDLE_DAYS, "directory")

    def __init__(self, data, *, tenant: Tenant):
        super().__init__(data)
        connections = tenant.connections.order_by("kind")
        self.fields["directory"].choices = [("", "Any directory")] + [
            (c.pk, c.label) for c in connections
        ]
        self.fields["directory"].label = "Directory"

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("after") and cleaned.get("before"):
            cleaned["after"] = cleaned["before"] = None  # the first page, then
            raise forms.ValidationError("A page link has either a start or an end, not both.")
        return cleaned

    @property
    def filter_fields(self):
        return [self[name] for name in self.FILTERS if name != "q"]
