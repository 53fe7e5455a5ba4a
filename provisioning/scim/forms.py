"""The forms of the SCIM page: a new token's name, a new role rule, a rule's move."""

from django import forms

from provisioning.scim.models import RoleRule
from tenants.forms import no_markup
from tenants.models import RoleTemplate


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=80,
        validators=[no_markup],
        help_text="Who uses it, e.g. “Okta production” or “Entra provisioning”.",
    )


class RuleForm(forms.Form):
    attribute = forms.ChoiceField(label="When", choices=RoleRule.Attribute.choices)
    value = forms.CharField(max_length=200, required=False, validators=[no_markup])
    role_template = forms.ModelChoiceField(
        label="Role template",
        queryset=RoleTemplate.objects.none(),
        empty_label="Choose a role template",
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role_template"].queryset = RoleTemplate.objects.filter(tenant=tenant)

    def clean(self):
        data = super().clean()
        attribute, value = data.get("attribute"), (data.get("value") or "").strip()
        if attribute and attribute != RoleRule.Attribute.DEFAULT and not value:
            self.add_error("value", "Give the department, title or group this rule looks for.")
        data["value"] = value
        return data


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])
