"""How long a person's first and last name and their username may be, for every directory of
their tenant to take them: checked where a joiner is asked for (the form, the API, a bulk
file, SCIM, the HR webhook), so no directory refuses them after another has created the
account."""

from __future__ import annotations

from collections.abc import Collection

from tenants.models import Tenant

# Okta's base profile takes a firstName and a lastName of at most 50 characters (the okta SDK's
# UserProfile, from Okta's OpenAPI spec), Entra's givenName and surname 64 (user.md). Checked
# where a joiner is asked for: a longer name would get its Entra account and then be refused
# by Okta, leaving the job half done. The connectors' `attribute_max_lengths` hold the same
# bounds for the dry run (engine/value_bounds.py), which sees the values mappings compute.
NAME_MAX = {"okta": 50}
NAME_MAX_DEFAULT = 64
# The username is Entra's userPrincipalName: "up to 64 characters before the @" and "up to 48
# characters after" it, 113 in all (learn.microsoft.com/entra/identity/authentication/
# concept-sspr-policy, UserPrincipalName policies); and Okta's login and e-mail, at most 100
# (the Schemas API's base subschema).
UPN_LOCAL_MAX, UPN_DOMAIN_MAX = 64, 48
OKTA_LOGIN_MAX = 100


def directory_kinds(tenant: Tenant) -> frozenset[str]:
    """The kinds of directory `tenant` has, which the bounds below depend on."""
    return frozenset(tenant.connections.values_list("kind", flat=True))


def longest_name(kinds: Collection[str]) -> tuple[int, str]:
    """The longest first or last name directories of these kinds take, and whose bound it is."""
    bounds = [(NAME_MAX[kind], kind) for kind in kinds if kind in NAME_MAX]
    return min(bounds, default=(NAME_MAX_DEFAULT, ""))


def name_too_long(value: str, bound: tuple[int, str]) -> str:
    """What is wrong with a name longer than `bound` (from longest_name), else ''."""
    longest, kind = bound
    if len(value) <= longest:
        return ""
    where = "Okta takes" if kind == "okta" else "The directories take"
    return f"{where} at most {longest} characters here ({len(value)} given)."


def longest_local(kinds: Collection[str], domain: str) -> int | None:
    """How many characters before the @ directories of these kinds take, for `domain`."""
    bounds = []
    if "entra" in kinds:
        bounds.append(UPN_LOCAL_MAX)
    if "okta" in kinds:
        bounds.append(OKTA_LOGIN_MAX - len(domain) - 1)
    return min(bounds, default=None)


def username_too_long(username: str, kinds: Collection[str]) -> str:
    """What is wrong with a username too long for a directory of these kinds, else ''."""
    local, _, domain = username.partition("@")
    if "entra" in kinds and len(local) > UPN_LOCAL_MAX:
        return f"Entra takes at most {UPN_LOCAL_MAX} characters before the @ ({len(local)} given)."
    if "entra" in kinds and len(domain) > UPN_DOMAIN_MAX:
        return f"Entra takes at most {UPN_DOMAIN_MAX} characters after the @ ({len(domain)} given)."
    if "okta" in kinds and len(username) > OKTA_LOGIN_MAX:
        return (
            f"Okta takes a username of at most {OKTA_LOGIN_MAX} characters ({len(username)} given)."
        )
    return ""
