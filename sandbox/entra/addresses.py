"""Users' and groups' proxyAddresses and the directory's uniqueness of them.

Graph (resources/user.md): proxyAddresses is read-only through the API; setting `mail` adds it
as the primary SMTP address ("SMTP:" prefix; secondary ones are "smtp:"). proxyAddresses are
unique across the directory's objects, UPNs apart ("These two attributes are generally
required to be unique across all User, Group, or Contact objects", azure-docs
how-to-connect-syncservice-duplicate-attribute-resiliency.md): a create or update whose mail
another object holds as any of its proxy addresses fails with 400 "Another object with the
same value for property proxyAddresses already exists." (microsoft-graph-docs-contrib#8421:
nothing is written, mail included). Addresses compare ignoring case and prefix.

A mail-enabled group (a distribution list, a mail-enabled security group, a Microsoft 365
group) holds its `mail` as its primary SMTP proxy address too (resources/group.md:
proxyAddresses "Returned by default. Read-only. Not nullable."), so a user's mail may not be a
group's address either; the ConflictingObjects detail then names `Group_<id>`.
"""

from __future__ import annotations

from sandbox.entra.errors import GraphError, object_conflict
from sandbox.entra.model import EntraTenant

PRIMARY = "SMTP:"


def address_of(proxy: str) -> str:
    """The address of an "smtp:x@y" entry, lower case ("" for other types, e.g. "x500:...")."""
    kind, colon, address = proxy.partition(":")
    return address.lower() if colon and kind.lower() == "smtp" else ""


def holder_of(tenant: EntraTenant, address: str, user_id: str | None) -> str | None:
    """The object other than user `user_id` that holds `address` as a proxy address, named as
    Graph's ConflictingObjects detail names it: "User_<id>" or "Group_<id>"."""
    wanted = address.lower()
    for user in tenant.live_users():
        if user.id != user_id and wanted in addresses(user.props):
            return f"User_{user.id}"
    for group in tenant.groups.values():
        if wanted in addresses(group.props):
            return f"Group_{group.id}"
    return None


def addresses(props: dict) -> set[str]:
    """Every SMTP address a user holds: its proxy addresses, and its mail (always one of them,
    also for users made in bulk without the list)."""
    held = {address_of(p) for p in props.get("proxyAddresses") or []}
    if props.get("mail"):
        held.add(props["mail"].lower())
    return held - {""}


def check_mail(tenant: EntraTenant, mail: str | None, user_id: str | None) -> None:
    """400 ObjectConflict when another object holds `mail` among its proxy addresses."""
    if not mail:
        return
    holder = holder_of(tenant, mail, user_id)
    if holder is not None:
        raise conflict(holder)


def conflict(holder: str) -> GraphError:
    """`holder` as holder_of names it."""
    kind, _, holder_id = holder.partition("_")
    return object_conflict("proxyAddresses", holder_id, kind=kind)


def group_proxies(mail: str | None) -> list[str]:
    """A group's proxyAddresses: its mail as the primary SMTP address, else none."""
    return with_mail([], mail)


def with_mail(proxies: list[str], mail: str | None) -> list[str]:
    """proxyAddresses after `mail` is set: it becomes the primary SMTP address; the old primary
    goes, the secondary addresses stay."""
    kept = [p for p in proxies if not p.startswith(PRIMARY)]
    if not mail:
        return kept
    kept = [p for p in kept if address_of(p) != mail.lower()]
    return [f"{PRIMARY}{mail}", *kept]
