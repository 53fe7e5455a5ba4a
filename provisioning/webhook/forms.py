"""The small forms of the HR webhook pages."""

from django import forms

from provisioning.webhook.models import HRWebhookEvent


class SecretActionForm(forms.Form):
    action = forms.ChoiceField(choices=[("rotate", "Generate a new secret"), ("remove", "Remove")])


class EventFilter(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("", "Any outcome"), *HRWebhookEvent.Outcome.choices], required=False
    )
