"""The drift report's filters and the reason an acceptance or a dismissal needs: every value a
request brings, bounded."""

from __future__ import annotations

from django import forms
from django.db.models import QuerySet

from portal.fields import BoundedIntegerField
from provisioning.inventory import drift_actions
from provisioning.inventory.models import Drift
from tenants.forms import no_markup
from tenants.models import Tenant

MAX_PAGE = 10_000
CURRENT = "current"  # open or converging: the default
ALL = "all"
STATUS_CHOICES = [
    (CURRENT, "Open or converging"),
    *[(value, label) for value, label in Drift.Status.choices],
    (ALL, "Any status"),
]
# UNMANAGED is not a row: the report lists those people in a section of their own.
KIND_CHOICES = [("", "Every kind")] + [
    (value, label) for value, label in Drift.Kind.choices if value != Drift.Kind.UNMANAGED
]


class DriftFilterForm(forms.Form):
    kind = forms.ChoiceField(choices=KIND_CHOICES, required=False, label="Kind")
    status = forms.ChoiceField(choices=STATUS_CHOICES, required=False, label="Status")
    directory = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Directory"
    )
    person = BoundedIntegerField(required=False, widget=forms.HiddenInput)
    page = BoundedIntegerField(max_value=MAX_PAGE, required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["directory"].choices = [("", "Every directory")] + [
            (str(c.pk), c.label) for c in tenant.connections.order_by("pk")
        ]

    def items(self, rows: QuerySet[Drift]) -> QuerySet[Drift]:
        """`rows` narrowed to the valid filters of the form (call once it is cleaned)."""
        data = self.cleaned_data
        status = data.get("status") or CURRENT
        if status == CURRENT:
            rows = rows.filter(status__in=Drift.OPEN_STATES)
        elif status != ALL:
            rows = rows.filter(status=status)
        if data.get("kind"):
            rows = rows.filter(kind=data["kind"])
        if data.get("directory"):
            rows = rows.filter(connection_id=data["directory"])
        if data.get("person"):
            rows = rows.filter(person_id=data["person"])
        return rows


class ReasonForm(forms.Form):
    reason = forms.CharField(
        min_length=drift_actions.REASON_MIN,
        max_length=drift_actions.REASON_MAX,
        strip=True,
        validators=[no_markup],
        label="Reason",
        error_messages={
            "required": "Give a reason: it goes into the audit trail.",
            "min_length": f"Give a reason of at least {drift_actions.REASON_MIN} characters.",
            "max_length": f"Keep the reason under {drift_actions.REASON_MAX + 1} characters.",
        },
    )
