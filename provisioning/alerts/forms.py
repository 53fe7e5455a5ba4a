from django import forms

from provisioning.alerts.models import AlertPreference, Delivery
from provisioning.alerts.rules import ALL_PREFERENCES


class AlertPreferencesForm(forms.Form):
    """Only the alerts the person's role is offered are shown (rules.OFFERED)."""

    job_failures = forms.BooleanField(required=False, label="A job failed or partly failed")
    connection_changes = forms.BooleanField(
        required=False, label="A connection was quarantined or released"
    )
    credential_expiry = forms.BooleanField(
        required=False,
        label="A connection's credential expires soon",
        help_text="30, 7 and 1 days before, and once it has expired.",
    )
    delivery = forms.ChoiceField(choices=Delivery.choices, widget=forms.RadioSelect)

    def __init__(self, *args, offered: tuple[str, ...], **kwargs):
        super().__init__(*args, **kwargs)
        for name in ALL_PREFERENCES:
            if name not in offered:
                del self.fields[name]

    @staticmethod
    def initial_from(preference: AlertPreference) -> dict:
        return {name: getattr(preference, name) for name in (*ALL_PREFERENCES, "delivery")}
