"""The adoption pages' forms: one person (templates, a reason, the confirmation of changes)
and a selection of people to adopt at once. Every value a request brings is bounded."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.db.models import QuerySet
from django.http import QueryDict

from portal.fields import BoundedIntegerField, BoundedModelMultipleChoiceField
from provisioning.inventory import adoption_suggest, queries_people
from provisioning.inventory.forms_people import PeopleFilterForm
from provisioning.inventory.models import Person
from tenants.forms import no_markup
from tenants.models import RoleTemplate, Tenant

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
        self.fields["templates"].queryset = adoption_suggest.templates_of(tenant)

    def chosen(self) -> list:
        return list(self.cleaned_data.get("templates") or [])


class BulkAdoptForm(PeopleFilterForm):
    """The People page's filters (the selection), and to start, the count the technician saw
    in the preview and a note."""

    expected = BoundedIntegerField(
        min_value=0, max_value=MAX_PEOPLE, required=False, widget=forms.HiddenInput
    )
    reason = forms.CharField(
        max_length=MAX_REASON,
        required=False,
        label="Note for the audit trail",
        validators=[no_markup],
    )

    def __init__(self, data, *, tenant: Tenant):
        super().__init__(data, tenant=tenant)
        self.tenant = tenant

    def people(self) -> QuerySet[Person]:
        """The unmanaged people the filters select (call once the form is valid)."""
        people = queries_people.people_of(self.tenant, self.cleaned_data)
        return people.filter(identity__isnull=True)

    def filters(self) -> list[tuple[str, str]]:
        """The filters that are set, as (name, value) (call once the form is valid)."""
        return [
            (name, str(self.cleaned_data[name]))
            for name in self.FILTERS
            if self.cleaned_data.get(name) not in (None, "")
        ]

    def query(self) -> str:
        """The filters as a query string, for links back to the same selection."""
        query = QueryDict(mutable=True)
        for name, value in self.filters():
            query[name] = value
        return query.urlencode()


class FollowForm(forms.Form):
    """The adopt page's mark of a bulk adoption left to the worker, which the page follows:
    when it began, as a Unix time (the view writes it; anything else is no mark)."""

    adopting = forms.FloatField(required=False, min_value=0, max_value=4_102_444_800)

    def began(self) -> datetime | None:
        if not self.is_valid() or self.cleaned_data["adopting"] is None:
            return None
        return datetime.fromtimestamp(self.cleaned_data["adopting"], tz=UTC)
