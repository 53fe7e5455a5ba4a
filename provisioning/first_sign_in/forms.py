"""The first sign-in policy form: every choice validated, the bounds Graph sets included."""

from __future__ import annotations

from django import forms

from provisioning.first_sign_in.models import FirstSignInPolicy


class PolicyForm(forms.ModelForm):
    class Meta:
        model = FirstSignInPolicy
        fields = [
            "entra_method",
            "tap_lifetime_minutes",
            "tap_usable_once",
            "okta_method",
            "recipient",
            "named_recipient",
            "link_hours",
        ]
        labels = {
            "entra_method": "Entra ID",
            "tap_lifetime_minutes": "Pass lifetime (minutes)",
            "tap_usable_once": "The pass works for one sign-in only",
            "okta_method": "Okta",
            "recipient": "Delivered to",
            "named_recipient": "Named person's e-mail",
            "link_hours": "One-time link works for (hours)",
        }
        widgets = {
            "entra_method": forms.RadioSelect,
            "okta_method": forms.RadioSelect,
            "recipient": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # As saved: validating the form writes its input into the instance.
        self.named_before = self.instance.named_recipient if self._names_someone() else ""

    def _names_someone(self) -> bool:
        return self.instance.recipient == FirstSignInPolicy.Recipient.NAMED

    @property
    def names_another_recipient(self) -> bool:
        """Whether the valid form sends the passes to a named address the policy did not name
        (a key that outlives the session, as an outbound webhook's URL: the password again)."""
        named = self.cleaned_data.get("named_recipient") or ""
        chosen = self.cleaned_data.get("recipient") == FirstSignInPolicy.Recipient.NAMED
        return chosen and named.casefold() != self.named_before.casefold()

    def clean(self) -> dict:
        data = super().clean()
        if data.get("recipient") == FirstSignInPolicy.Recipient.NAMED and not data.get(
            "named_recipient"
        ):
            self.add_error("named_recipient", "Give the named person's e-mail address.")
        if data.get("recipient") == FirstSignInPolicy.Recipient.MANAGER:
            data["named_recipient"] = ""
        return data
