"""The stale accounts report's filters: every query parameter it reads, bounded."""

from __future__ import annotations

from django import forms

from portal.fields import BoundedIntegerField
from provisioning.inventory import stale
from tenants.models import Tenant

MAX_PAGE = 10_000
MANAGED = {"managed": True, "unmanaged": False}
# The one name of "nobody signed in for N days", on the People page and this report; the
# names each used before, redirected (`portal.fields.renamed_query`).
IDLE_DAYS = "idle_days"
OLD_NAMES = {"days": IDLE_DAYS}


def idle_days_field(**kwargs) -> BoundedIntegerField:
    """Days without a sign-in, from stale.MIN_DAYS to stale.MAX_DAYS."""
    message = f"Give a number of days from {stale.MIN_DAYS} to {stale.MAX_DAYS}."
    return BoundedIntegerField(
        required=False,
        min_value=stale.MIN_DAYS,
        max_value=stale.MAX_DAYS,
        label="No sign-in for (days)",
        error_messages={"min_value": message, "max_value": message},
        **kwargs,
    )


class StaleFilterForm(forms.Form):
    idle_days = idle_days_field()
    directory = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    managed = forms.ChoiceField(
        required=False,
        choices=[("", "Managed or not"), ("managed", "Managed"), ("unmanaged", "Not managed")],
        label="Managed",
    )
    page = BoundedIntegerField(max_value=MAX_PAGE, required=False)

    def __init__(self, *args, tenant: Tenant, directories: list[stale.Directory], **kwargs):
        super().__init__(*args, **kwargs)
        self.default_days = stale.stale_after_days(tenant)
        self.fields["directory"].choices = [("", "Every directory")] + [
            (str(d.connection.pk), d.label) for d in directories
        ]
        self.fields[IDLE_DAYS].widget.attrs["placeholder"] = str(self.default_days)

    def stale_days(self) -> int:
        """The form's N, or the tenant's policy's."""
        return self.cleaned_data.get(IDLE_DAYS) or self.default_days

    def filters(self) -> dict:
        """The keyword arguments of stale.stale_accounts the form asks for."""
        return {
            "connection_id": self.cleaned_data.get("directory"),
            "managed": MANAGED.get(self.cleaned_data.get("managed") or ""),
        }
