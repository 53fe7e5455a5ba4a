"""The audit page's filter form and the "Verify integrity" form.

Dates are calendar days in the portal's time zone (settings.TIME_ZONE, UTC by default), the
zone the page shows its times in; "to" includes its whole day.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils import timezone

from portal.audit.models import Result
from portal.fields import BoundedDateField, KeysetCursorField, usable_filters
from reports.audit_queries import GLOBAL, AuditFilters, Cursor, Scope

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
GLOBAL_LABEL = "MSP-wide (staff, MSP role templates)"
TEXT_FILTERS = ("tenant", "actor", "action", "target_type", "target_id", "q", "job")
TECHNICAL_FILTERS = ("target_type", "target_id", "job")


def _tenant_choices(scope: Scope, first: tuple[str, str] | None) -> list[tuple[str, str]]:
    choices = [first] if first else []
    if scope.msp_admin:
        choices.append((GLOBAL, GLOBAL_LABEL))
    return choices + [(t.slug, t.name) for t in scope.tenants]


class AuditFilterForm(forms.Form):
    # A slug outside the person's tenants is a 404 (audit_queries.scoped_events), not an
    # error message: the page must not tell which slugs exist.
    # "wide": two columns of the filter grid, for "MSP-wide (…)" and long tenant names.
    tenant = forms.CharField(required=False, widget=forms.Select(attrs={"class": "wide"}))
    actor = forms.CharField(
        required=False, max_length=150, label="Actor", help_text="Username, system or webhook"
    )
    action = forms.CharField(
        required=False,
        max_length=100,
        help_text="Pick one from the list (type a word of it), or job. for every job event",
        widget=forms.TextInput(attrs={"list": "audit-actions"}),
    )
    result = forms.ChoiceField(
        required=False, choices=[("", "Any result"), *Result.choices], label="Result"
    )
    q = forms.CharField(required=False, min_length=3, max_length=100, label="Target name contains")
    target_type = forms.CharField(required=False, max_length=100, label="Target type")
    target_id = forms.CharField(required=False, max_length=64, label="Target id")
    job = forms.CharField(required=False, max_length=64, label="Job")
    date_from = BoundedDateField(required=False, label="From", widget=DATE_WIDGET)
    date_to = BoundedDateField(required=False, label="To", widget=DATE_WIDGET)

    def __init__(self, *args, scope: Scope, plain: bool = False, **kwargs):
        """`plain`: for a client's people, who read the trail without the portal's object
        types and ids: those filters stay (the "events of this target" links fill them) but
        are not shown, nor the tenant choice of a person of one tenant."""
        super().__init__(*args, **kwargs)
        self.fields["tenant"].widget.choices = _tenant_choices(scope, ("", "All your tenants"))
        if plain:
            hidden = [*TECHNICAL_FILTERS, *(("tenant",) if scope.only_tenant else ())]
            for name in hidden:
                self.fields[name].widget = forms.HiddenInput()

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data

    def filters(self) -> AuditFilters:
        """The valid filters of the form (one that is not valid is left out, and marked)."""
        data = usable_filters(self)
        text = {name: (data.get(name) or "").strip() for name in TEXT_FILTERS}
        return AuditFilters(
            tenant=text["tenant"],
            actor=text["actor"],
            action=text["action"].lower(),
            target_type=text["target_type"],
            target_id=text["target_id"],
            text=text["q"],
            result=data.get("result") or "",
            since=_start_of(data.get("date_from")),
            until=_start_of(data.get("date_to"), days_after=1),
            job_id=text["job"],
        )


def _start_of(day: dt.date | None, days_after: int = 0) -> dt.datetime | None:
    if day is None:
        return None
    midnight = dt.datetime.combine(day + dt.timedelta(days=days_after), dt.time())
    return timezone.make_aware(midnight)


class CursorForm(forms.Form):
    """Where a page starts: ``after`` a row (the newer page) or ``before`` it (the older)."""

    after = KeysetCursorField()
    before = KeysetCursorField()

    def cursor(self) -> Cursor | None:
        """The cursor of a valid form (``after`` wins), or None for the first page."""
        if not self.is_valid():
            return None
        if position := self.cleaned_data["after"]:
            return Cursor(*position, newer=True)
        if position := self.cleaned_data["before"]:
            return Cursor(*position)
        return None


class VerifyForm(forms.Form):
    tenant = forms.ChoiceField(label="Audit trail of")

    def __init__(self, *args, scope: Scope, **kwargs):
        # Its own ids: the filter form on the same page has a tenant field too.
        super().__init__(*args, auto_id="verify_%s", **kwargs)
        self.fields["tenant"].choices = _tenant_choices(scope, None)
