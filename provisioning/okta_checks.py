"""“Test connection” for Okta: what the jobs need of the API token's admin roles.

An Okta API token acts with the standard admin roles of the admin who created it, so a
Read-only Administrator's token reads fine and fails every write. Which role may do what is
Okta's "Standard administrator roles and permissions" table.
"""

from __future__ import annotations

from provisioning.checks import Check
from provisioning.connectors.errors import ConnectorError, PermissionDeniedError

ROLE_NAMES = {
    "SUPER_ADMIN": "a Super Administrator",
    "ORG_ADMIN": "an Org Administrator",
    "USER_ADMIN": "a Group Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "a Group Membership Administrator",
    "APP_ADMIN": "an Application Administrator",
    "HELP_DESK_ADMIN": "a Help Desk Administrator",
    "READ_ONLY_ADMIN": "a Read-only Administrator",
    "REPORT_ADMIN": "a Report Administrator",
    "MOBILE_ADMIN": "a Mobile Administrator",
    "API_ACCESS_MANAGEMENT_ADMIN": "an API Access Management Administrator",
    "CUSTOM": "a custom role's administrator",
}
_ALL = frozenset({"SUPER_ADMIN", "ORG_ADMIN"})
# (label, what fails in words, the standard roles that allow it)
NEEDS = (
    ("Create and update users, suspend and deactivate them", "create users",
     _ALL | {"USER_ADMIN"}),
    ("Change group members", "change groups",
     _ALL | {"USER_ADMIN", "GROUP_MEMBERSHIP_ADMIN"}),
    ("Assign apps", "assign apps", _ALL | {"APP_ADMIN"}),
    ("Reset passwords", "reset passwords", _ALL | {"USER_ADMIN", "HELP_DESK_ADMIN"}),
)  # fmt: skip
NOT_SUPER = "Okta shows admin roles only to a Super Administrator's token, and this is not one"
USE_INSTEAD = "use a token of a Super or Org Administrator"


async def okta_job_needs(connector) -> list[Check]:
    label = "Read the token's admin roles"
    try:
        roles = await connector.admin_roles()
    except PermissionDeniedError:
        return [Check(label, True, _unreadable(NOT_SUPER))]
    except ConnectorError as exc:
        return [Check(label, True, _unreadable(exc.message))]
    return [_summary(roles), *(_need(roles, *need) for need in NEEDS)]


def _unreadable(why: str) -> str:
    return (
        f"Cannot tell which jobs will fail ({why}). Jobs fail unless the token's admin is a "
        "Super or Org Administrator or holds the roles for them."
    )


def _who(roles: frozenset[str]) -> str:
    if not roles:
        return "holds no admin role"
    names = [ROLE_NAMES.get(role, role) for role in sorted(roles)]
    return "is " + " and ".join(names)


def _summary(roles: frozenset[str]) -> Check:
    label = "Write with the token's admin roles"
    cannot = [words for _, words, allowed in NEEDS if not roles & allowed]
    if not cannot:
        return Check(label, True, f"the token's admin {_who(roles)}")
    if "CUSTOM" in roles:
        return Check(label, True, f"the token's admin {_who(roles)}: check it lets them "
                                  f"{_listed(cannot)}")  # fmt: skip
    can = "Can read" if len(cannot) == len(NEEDS) else "Can read and some jobs work"
    return Check(
        label,
        False,
        f"{can}, cannot {_listed(cannot)}: the token's admin {_who(roles)}; {USE_INSTEAD}.",
    )


def _need(roles: frozenset[str], label: str, words: str, allowed: frozenset[str]) -> Check:
    if roles & allowed:
        return Check(label, True)
    if "CUSTOM" in roles:
        return Check(label, True, "only if the admin's custom role allows it")
    return Check(label, False, f"Cannot {words}: {USE_INSTEAD}.")


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]
