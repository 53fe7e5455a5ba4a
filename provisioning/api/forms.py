"""The form that issues an API token: a name, an expiry within a year, read-only, and
optionally some of the tenants the person may see (only those are offered)."""

from __future__ import annotations

import datetime as dt
import re
import secrets

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.fields import BoundedDateField, BoundedModelMultipleChoiceField
from provisioning.api.tokens import MAX_LIFETIME
from tenants import access

DEFAULT_LIFETIME = dt.timedelta(days=90)
FORM_KEY = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24)


def printable(value: str) -> None:
    if any(ord(c) < 32 or ord(c) == 127 for c in value) or "<" in value or ">" in value:
        raise ValidationError("Use plain text: no control characters, < or >.")


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        validators=[printable],
        help_text="What uses it, e.g. “HaloPSA”: it names the changes it makes in the audit trail.",
    )
    expires_on = BoundedDateField(
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=f"At the start of that day; at most {MAX_LIFETIME.days} days ahead.",
    )
    read_only = forms.BooleanField(
        required=False, label="Read-only", help_text="It may read, never change anything."
    )
    tenants = BoundedModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every tenant you may see, now and later.",
    )
    # This form's one-time key, made with the page: sent again, it makes no second token.
    form_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data=None, *, user):
        today = timezone.localdate()
        initial = {"expires_on": today + DEFAULT_LIFETIME, "form_key": secrets.token_urlsafe(24)}
        super().__init__(data, initial=initial)
        self.today = today
        self.fields["tenants"].queryset = access.tenants_for(user).order_by("name")
        self.fields["expires_on"].widget.attrs.update(
            min=f"{today + dt.timedelta(days=1):%Y-%m-%d}",
            max=f"{today + MAX_LIFETIME:%Y-%m-%d}",
        )

    def clean_expires_on(self) -> dt.date:
        day = self.cleaned_data["expires_on"]
        if day <= self.today:
            raise ValidationError("Choose a day after today.")
        if day > self.today + MAX_LIFETIME:
            raise ValidationError(f"A token lives at most {MAX_LIFETIME.days} days.")
        return day

    def clean_form_key(self) -> str:
        """Another value than the page's own (out of date, or typed) is no key: no error
        the person could act on, and the token is made as without one."""
        key = self.cleaned_data["form_key"]
        return key if FORM_KEY.fullmatch(key) else ""

    def expires_at(self) -> dt.datetime:
        day = self.cleaned_data["expires_on"]
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
