"""The dashboard's filters and the client report's period, parsed from the query string."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django import forms

from portal.fields import BoundedDateField, usable_filters
from reports.dashboard import DEFAULT_SORT, SORTS

MAX_REPORT_DAYS = 400
PERIODS = [
    ("last_30_days", "Last 30 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("last_quarter", "Last quarter"),
    ("custom", "Custom"),
]
DEFAULT_PERIOD = "last_30_days"


class DashboardForm(forms.Form):
    tag = forms.CharField(required=False, max_length=60)
    sort = forms.ChoiceField(required=False)

    def __init__(self, data=None):
        super().__init__(data)
        self.fields["sort"].choices = [(k, k) for name in SORTS for k in (name, f"-{name}")]

    def choices(self) -> tuple[str | None, str]:
        """(tag, sort); a value that is not valid is left out (the whole board, the default
        sort), and marked on the page."""
        if not self.is_bound:
            return None, DEFAULT_SORT
        data = usable_filters(self)
        return data.get("tag") or None, data.get("sort") or DEFAULT_SORT

    def query(self) -> str:
        """The valid choices as a query string, to come back to the same view of the board."""
        tag, sort = self.choices()
        return urlencode(
            {k: v for k, v in (("tag", tag), ("sort", sort)) if v and v != DEFAULT_SORT}
        )


class ReportPeriodForm(forms.Form):
    period = forms.ChoiceField(choices=PERIODS, required=False, label="Period")
    start = BoundedDateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = BoundedDateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data=None, *, today: date):
        super().__init__(data)
        self.today = today

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period")
        given = bool(self.data.get("start") or self.data.get("end"))
        if period not in ("", None, "custom") or (not period and not given):
            # A preset wins over dates left in the form from an earlier choice.
            cleaned["period"] = period or DEFAULT_PERIOD
            cleaned["start"], cleaned["end"] = preset_range(cleaned["period"], self.today)
            self.errors.pop("start", None)
            self.errors.pop("end", None)
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None and "start" not in self.errors:
            self.add_error("start", "Give the first day of the period.")
        if end is None and "end" not in self.errors:
            self.add_error("end", "Give the last day of the period.")
        if start and start > self.today:
            # Nothing has happened in it: its zeros would read as "every operation succeeded".
            self.add_error(
                "start", "The period starts after today: nothing has happened in it yet."
            )
        elif start and end and end < start:
            self.add_error("end", "The last day comes before the first.")
        elif start and end and (end - start).days >= MAX_REPORT_DAYS:
            self.add_error("end", f"A report covers at most {MAX_REPORT_DAYS} days.")
        cleaned["period"] = "custom"
        return cleaned

    def chosen(self) -> tuple[str, date, date]:
        """The chosen (preset, first day, last day); the default period when the input is bad."""
        if self.is_valid():
            data = self.cleaned_data
            return data["period"], data["start"], data["end"]
        return (DEFAULT_PERIOD, *preset_range(DEFAULT_PERIOD, self.today))


def period_query(period: str, start: date, end: date) -> str:
    """The query string that defines a period: a preset's name alone (its dates follow from
    the day it is read), a custom period's first and last day."""
    if period != "custom":
        return urlencode({"period": period})
    return urlencode({"period": period, "start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}"})


def preset_range(period: str, today: date) -> tuple[date, date]:
    """First and last day (inclusive) of a preset period, seen from `today`."""
    month_start = today.replace(day=1)
    if period == "this_month":
        return month_start, today
    if period == "last_month":
        last = month_start - timedelta(days=1)
        return last.replace(day=1), last
    if period == "last_quarter":
        quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        last = quarter_start - timedelta(days=1)
        return date(last.year, 3 * ((last.month - 1) // 3) + 1, 1), last
    return today - timedelta(days=29), today
