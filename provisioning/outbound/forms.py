"""The forms of the webhook pages."""

from __future__ import annotations

from django import forms

from provisioning.events.models import Event
from provisioning.outbound.addresses import check_url
from provisioning.outbound.models import Delivery, WebhookEndpoint
from tenants.endpoints import EndpointError


def one_line_of_plain_text(value: str) -> None:
    """A name for people, and the subject of the switch-off mail: one line, no markup."""
    if not value.isprintable() or "<" in value or ">" in value:
        raise forms.ValidationError("Use one line of plain text: no control characters, < or >.")


class EndpointForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        validators=[one_line_of_plain_text],
        help_text="For people: e.g. “HaloPSA tickets”.",
    )
    url = forms.CharField(
        label="URL",
        max_length=500,
        help_text="The receiver's https:// address (a public host). Redirects are not followed.",
    )
    kinds = forms.MultipleChoiceField(
        label="Events",
        choices=Event.Kind.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this endpoint hears.",
    )
    active = forms.BooleanField(label="Send events", required=False, initial=True)
    confirm_url = forms.BooleanField(
        label="Yes, send to the new address (the secret stays the same)", required=False
    )

    def __init__(self, *args, endpoint: WebhookEndpoint | None = None, **kwargs) -> None:
        self.endpoint = endpoint
        if endpoint is not None and not args and "data" not in kwargs:
            kwargs["initial"] = {
                "name": endpoint.name,
                "url": endpoint.url,
                "kinds": endpoint.kinds,
                "active": endpoint.active,
            }
        super().__init__(*args, **kwargs)

    def clean_url(self) -> str:
        try:
            return check_url(self.cleaned_data["url"])
        except EndpointError as exc:
            raise forms.ValidationError(str(exc)) from None

    @property
    def url_changes(self) -> bool:
        url = self.cleaned_data.get("url") if hasattr(self, "cleaned_data") else None
        return bool(self.endpoint and url and url != self.endpoint.url)

    def clean(self) -> dict:
        cleaned = super().clean()
        if self.url_changes and not cleaned.get("confirm_url"):
            self.add_error(
                "confirm_url",
                f"The address changes from {self.endpoint.url} to {cleaned['url']}: "
                "tick to confirm. Events about your tenants will go there.",
            )
        return cleaned


class DeliveryFilter(forms.Form):
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Delivery.Status.choices], required=False
    )
