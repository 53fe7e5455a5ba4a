"""What the inventory last saw a managed person's account hold, for the access request form:
a group or app the directory shows them in already needs no request."""

from __future__ import annotations

from datetime import datetime

from provisioning.inventory.models import Account
from provisioning.models import DirectoryAccount, Identity, RequestableResource


def seen_holding(identity: Identity, resource: RequestableResource) -> datetime | None:
    """When the inventory last saw `identity`'s account in `resource`'s directory holding it
    (a group membership or an app assignment); None when it did not, or never read it."""
    remote_id = (
        DirectoryAccount.objects.filter(identity=identity, connection=resource.connection)
        .exclude(remote_id="")
        .values_list("remote_id", flat=True)
        .first()
    )
    if not remote_id:
        return None
    account = Account.objects.filter(
        connection=resource.connection, remote_id=remote_id, deleted=False
    ).first()
    if account is None:
        return None
    held = account.group_ids if resource.kind == RequestableResource.Kind.GROUP else account.app_ids
    return account.last_seen if resource.remote_id in held else None
