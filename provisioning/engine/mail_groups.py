"""A joiner's e-mail address that a group holds (Entra: a distribution list's, a mail-enabled
security group's or a Microsoft 365 group's; addresses are unique across users and groups, and
Graph refuses the create with ObjectConflict on proxyAddresses). A group is never the person,
so nothing is linked: it is always a blocking conflict, found at dry run, naming the group."""

from __future__ import annotations

from provisioning.connectors.base import Resource
from provisioning.engine import planner
from provisioning.engine.desired import DesiredState


async def group_conflict(connector, desired: DesiredState) -> planner.Problem | None:
    """The conflict when a group holds the joiner's e-mail address (None where the directory
    has no such groups, or none holds it)."""
    group_by_mail = getattr(connector, "group_by_mail", None)
    if group_by_mail is None or not desired.email:
        return None
    group = await group_by_mail(desired.email)
    if group is None:
        return None
    return planner.Problem(
        "conflict",
        f"The {kind_of(group)} {group.name} holds {desired.email} in this directory: a group's "
        "address cannot be a person's. Choose another e-mail address, or free it on that "
        "group first.",
        desired.email,
    )


def kind_of(group: Resource) -> str:
    """What an admin calls the group (Resource.detail as the Entra connector fills it)."""
    if group.detail.get("unified"):
        return "Microsoft 365 group"
    if group.detail.get("mail_enabled") and group.detail.get("security_enabled"):
        return "mail-enabled security group"
    if group.detail.get("mail_enabled"):
        return "distribution list"
    return "group"
