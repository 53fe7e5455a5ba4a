"""What a `POST /groups` body may hold, and a group's `visibility`, as group.md and
group-post-groups.md publish them. Graph's texts for these refusals are not published: the
sandbox gives the directory's usual 400s (undeclared, read-only, invalid value) and, for the
missing permission, its usual 403."""

from __future__ import annotations

from typing import Any

from sandbox.entra.errors import GraphError, bad_request, undeclared_directory_property

# group.md's properties a create may set that the sandbox holds (the required four, and
# description, groupTypes, membershipRule and its processing state, visibility,
# isAssignableToRole), each with its JSON type.
CREATABLE: dict[str, type | tuple[type, ...]] = {
    "displayName": str,
    "mailNickname": str,
    "mailEnabled": bool,
    "securityEnabled": bool,
    "description": str,
    "groupTypes": list,
    "membershipRule": str,
    "membershipRuleProcessingState": str,
    "visibility": str,
    "isAssignableToRole": bool,
}
# group.md marks these "Read-only" (mail and proxyAddresses follow mailNickname; the ids and
# dates are the directory's); a body that sets one is refused as a user's is (users.py).
READ_ONLY = frozenset(
    {
        "id",
        "mail",
        "proxyAddresses",
        "createdDateTime",
        "deletedDateTime",
        "renewedDateTime",
        "expirationDateTime",
        "securityIdentifier",
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
        "onPremisesSecurityIdentifier",
    }
)
# group-post-groups.md, Example 2: "a maximum of 20 relationships, such as owners and members,
# can be added as part of group creation" through `owners@odata.bind` / `members@odata.bind`.
# The sandbox does not model them: it says so rather than make a group without them.
BINDINGS = ("owners@odata.bind", "members@odata.bind")
# group.md, visibility: "Possible values are: Private, Public, or HiddenMembership.
# HiddenMembership can be set only for Microsoft 365 groups when the groups are created. It
# can't be updated later. ... If visibility value isn't specified during group creation ...
# the Microsoft 365 group is Public. Groups assignable to roles are always Private."
VISIBILITIES = ("Private", "Public", "HiddenMembership")
HIDDEN = "HiddenMembership"
ROLE_WRITE = "RoleManagement.ReadWrite.Directory"


def invalid(name: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{name}' of resource 'Group'.")


def check_create_body(data: dict[str, Any], permissions: list[str]) -> None:
    """A create body's names and types; isAssignableToRole's conditions and permission."""
    for key, value in data.items():
        if key.startswith("@odata."):
            continue
        if key in BINDINGS:
            raise GraphError(501, "NotImplemented", f"The sandbox does not model {key}.")
        if key in READ_ONLY:
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
        kind = CREATABLE.get(key)
        if kind is None:
            raise undeclared_directory_property(key)
        if value is not None and not isinstance(value, kind):
            raise invalid(key)
    if not all(isinstance(t, str) for t in data.get("groupTypes") or []):
        raise invalid("groupTypes")
    _check_processing_state(data.get("membershipRuleProcessingState"))
    if data.get("isAssignableToRole") is True:
        _check_role_assignable(data, permissions)


def _check_processing_state(state: object) -> None:
    """group.md, membershipRuleProcessingState: "Possible values are On or Paused". A paused
    rule is not modelled (the sandbox evaluates every rule): it says so rather than make a
    group whose rule it would run all the same."""
    if state is not None and state not in ("On", "Paused"):
        raise invalid("membershipRuleProcessingState")
    if state == "Paused":
        raise GraphError(501, "NotImplemented", "The sandbox does not model a paused rule.")


def _check_role_assignable(data: dict[str, Any], permissions: list[str]) -> None:
    """group.md, isAssignableToRole: "If set to true, the securityEnabled property must also
    be set to true, visibility must be Hidden, and the group can't be a dynamic group"; its
    visibility row: "Groups assignable to roles are always Private" (so never Public, the one
    value both rule out); "The caller must also be assigned the RoleManagement.ReadWrite.
    Directory permission to set this property" (group-post-groups.md, Example 3, too)."""
    if ROLE_WRITE not in permissions:
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )
    dynamic = "DynamicMembership" in (data.get("groupTypes") or [])
    if data.get("securityEnabled") is not True or dynamic:
        raise invalid("isAssignableToRole")
    if data.get("visibility") == "Public":
        raise invalid("visibility")


def new_visibility(data: dict[str, Any]) -> str | None:
    """The visibility a new group gets: the one asked for, if it may have it; Public for a
    Microsoft 365 group and Private for a role-assignable one when none is asked for; else
    none (group-post-groups.md, Example 2: a security group answers `"visibility": null`)."""
    wanted = data.get("visibility")
    unified = "Unified" in (data.get("groupTypes") or [])
    if wanted is None:
        if data.get("isAssignableToRole") is True:
            return "Private"
        return "Public" if unified else None
    if wanted not in VISIBILITIES or (wanted == HIDDEN and not unified):
        raise invalid("visibility")
    return wanted


def check_new_visibility(current: str | None, wanted: object) -> None:
    """A PATCH of visibility: one of the three, never to or from HiddenMembership, and a
    role-assignable group's stays Private (the caller checks that one)."""
    if wanted not in VISIBILITIES or HIDDEN in (wanted, current) and wanted != current:
        raise invalid("visibility")
