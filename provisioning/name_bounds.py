"""How long a person's first and last name may be, for every directory of their tenant to take
it: checked where a joiner is asked for (the form, the API, a bulk file, SCIM, the HR
webhook), so no directory refuses the name after another has created the account."""

from __future__ import annotations

from tenants.models import Tenant

# Okta's base profile takes a firstName and a lastName of at most 50 characters (the okta SDK's
# UserProfile, from Okta's OpenAPI spec), Entra's givenName and surname 64 (user.md). Checked
# where a joiner is asked for: a longer name would get its Entra account and then be refused
# by Okta, leaving the job half done.
NAME_MAX = {"okta": 50}
NAME_MAX_DEFAULT = 64


def longest_name(tenant: Tenant) -> tuple[int, str]:
    """The longest first or last name all of `tenant`'s directories take, and whose bound it is."""
    kinds = set(tenant.connections.values_list("kind", flat=True))
    bounds = [(NAME_MAX[kind], kind) for kind in kinds if kind in NAME_MAX]
    return min(bounds, default=(NAME_MAX_DEFAULT, ""))


def name_too_long(value: str, bound: tuple[int, str]) -> str:
    """What is wrong with a name longer than `bound` (from longest_name), else ''."""
    longest, kind = bound
    if len(value) <= longest:
        return ""
    where = "Okta takes" if kind == "okta" else "The directories take"
    return f"{where} at most {longest} characters here ({len(value)} given)."
