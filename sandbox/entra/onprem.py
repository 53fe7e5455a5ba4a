"""Writes Graph refuses because another system is the object's source of authority.

- Users and groups synced from on-premises Active Directory (`onPremisesSyncEnabled: true`):
  AD masters their properties, manager, sign-in state and password, and a synced group's
  members.
  Graph answers 400 Request_BadRequest with the directory-sync text below. What lives only
  in the cloud stays writable on a synced user: its usage location, its licences
  (assignLicense), its membership of cloud groups, app role assignments, revoking its
  sessions. Deleting a synced object in the cloud is allowed (Microsoft's own fix for an
  orphaned synced object is to delete it there, KB 2709902), so DELETE is not refused.
- Mail-enabled security groups and distribution lists (mailEnabled without "Unified"):
  "Mail-enabled and distribution groups are read-only through Microsoft Graph"
  (groups-overview); Exchange Online owns them. Creating one, changing it or its members:
  400 Request_BadRequest "Cannot Create/Update a mail-enabled security groups and or
  distribution list." (microsoftgraph/microsoft-graph-docs#14827).

The handlers call these guards after their own validation, before they change anything.
"""

from __future__ import annotations

from typing import Any

from sandbox.entra.errors import bad_request
from sandbox.entra.model import Group, User

MASTERED_ON_PREMISES = (
    "Unable to update the specified properties for on-premises mastered Directory Sync "
    "objects or objects currently undergoing migration."
)
EXCHANGE_UPDATE = "Cannot Update a mail-enabled security groups and or distribution list."
EXCHANGE_CREATE = "Cannot Create a mail-enabled security groups and or distribution list."

# The on-premises properties Graph shows on users and groups; read-only here.
SYNC_PROPERTIES = ("onPremisesSyncEnabled", "onPremisesImmutableId", "onPremisesLastSyncDateTime")
# What stays cloud-mastered on a synced user (it has no counterpart in AD).
CLOUD_MASTERED_USER_PROPERTIES = frozenset({"usageLocation"})


def is_synced(props: dict[str, Any]) -> bool:
    return props.get("onPremisesSyncEnabled") is True


def is_exchange_mastered(props: dict[str, Any]) -> bool:
    """A mail-enabled security group or a distribution list (not a Microsoft 365 group)."""
    return props.get("mailEnabled") is True and "Unified" not in (props.get("groupTypes") or [])


def refuse_synced_user_update(user: User, changes: dict[str, Any]) -> None:
    """PATCH /users/{id} of a synced user: any on-premises mastered property (accountEnabled
    and passwordProfile among them) refuses the whole request."""
    if not is_synced(user.props):
        return
    if any(name not in CLOUD_MASTERED_USER_PROPERTIES for name in changes):
        raise bad_request(MASTERED_ON_PREMISES)


def refuse_group_change(group: Group) -> None:
    """PATCH /groups/{id} and its members/$ref: refused for a synced group (AD owns it) and
    for a mail-enabled security group or distribution list (Exchange owns it)."""
    if is_synced(group.props):
        raise bad_request(MASTERED_ON_PREMISES)
    if is_exchange_mastered(group.props):
        raise bad_request(EXCHANGE_UPDATE)


def refuse_exchange_create(props: dict[str, Any]) -> None:
    """POST /groups: only Microsoft 365 and security groups are created through Graph."""
    if is_exchange_mastered(props):
        raise bad_request(EXCHANGE_CREATE)
