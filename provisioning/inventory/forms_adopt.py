"""The adoption pages' forms: one person (templates, a reason, the confirmation of changes)
and a selection of people to adopt at once. Every value a request brings is bounded."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict

from portal.fields import BoundedIntegerField, BoundedModelMultipleChoiceField
from provisioning.inventory import adoption
from provisioning.inventory.models import Person
from tenants.forms import no_markup
from tenants.models import RoleTemplate, Tenant

MAX_SEARCH = 100
MAX_REASON = 500
MAX_PEOPLE = 1_000_000  # the count a bulk confirmation carries


class AdoptForm(forms.Form):
    """Which role templates explain the person's access; the rest becomes exceptions."""

    templates = BoundedModelMultipleChoiceField(
        queryset=RoleTemplate.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Role templates",
        error_messages={
            "invalid_choice": "That role template is not one of this tenant's.",
            "invalid_pk_value": "That role template is not one of this tenant's.",
        },
    )
    reason = forms.CharField(
        max_length=MAX_REASON,
        required=False,
        label="Note for the audit trail",
        validators=[no_markup],
    )
    confirm_changes = forms.BooleanField(
        required=False,
        label="Adopt anyway: the next reconciliation makes these changes",
    )

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["templates"].queryset = adoption.templates_of(tenant)

    def chosen(self) -> list:
        return list(self.cleaned_data.get("templates") or [])


STATES = [
    ("", "Enabled or disabled"),
    ("enabled", "Enabled"),
    ("disabled", "Disabled"),
]


class BulkAdoptForm(forms.Form):
    """A selection of the tenant's people in scope, as the People page filters them, and
    (to start) the count the technician saw in the preview."""

    q = forms.CharField(max_length=MAX_SEARCH, required=False, label="Name, username or mail")
    directory = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Directory"
    )
    state = forms.ChoiceField(choices=STATES, required=False, label="Sign-in")
    expected = BoundedIntegerField(
        min_value=0, max_value=MAX_PEOPLE, required=False, widget=forms.HiddenInput
    )
    reason = forms.CharField(
        max_length=MAX_REASON, required=False, label="Note for the audit trail"
    )

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["directory"].choices = [("", "Every directory")] + [
            (str(c.pk), c.get_kind_display()) for c in tenant.connections.order_by("pk")
        ]

    def people(self) -> QuerySet[Person]:
        """The unmanaged people in scope the filter selects (call once it is valid)."""
        data = self.cleaned_data
        people = Person.objects.filter(tenant=self.tenant, identity__isnull=True, in_scope=True)
        if data.get("q"):
            people = people.filter(search__contains=data["q"].strip().casefold())
        if data.get("directory"):
            people = people.filter(accounts__connection_id=data["directory"]).distinct()
        if data.get("state") == "enabled":
            people = people.filter(enabled=True)
        elif data.get("state") == "disabled":
            people = people.filter(enabled=False)
        return people

    def query(self) -> str:
        """The filter as a query string, for links back to the same selection."""
        data = {k: v for k, v in self.cleaned_data.items() if k in ("q", "directory", "state")}
        query = QueryDict(mutable=True)
        for key, value in data.items():
            if value not in (None, ""):
                query[key] = str(value)
        return query.urlencode()
