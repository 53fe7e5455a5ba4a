"""`Identity.directories` kept to the tenant's connections: a deleted connection's id leaves
every person's list in the deletion's transaction, and a list read is taken without the ids
of connections deleted before that was so.

A list emptied so stays empty: the person is managed in no directory (their page offers "Add
to …" for each one left), never in every one, which would create accounts in directories
they were deliberately kept out of."""

from __future__ import annotations

from django.db.models.signals import post_delete

from portal.audit.events import event_for, record_all
from provisioning.models import Identity
from tenants.models import DirectoryConnection


def listed(identity: Identity) -> list[int] | None:
    """The person's list without the ids of connections that no longer exist (None: every
    directory of the tenant)."""
    if identity.directories is None:
        return None
    existing = set(
        identity.tenant.connections.filter(pk__in=identity.directories).values_list("pk", flat=True)
    )
    return [pk for pk in identity.directories if pk in existing]


def connection_deleted(sender, instance: DirectoryConnection, **kwargs) -> None:
    """Take the deleted connection's id off the lists of its tenant's people, each change in
    their audit trail; inside the deletion's transaction (Django sends post_delete there)."""
    people = Identity.objects.select_for_update().filter(
        tenant_id=instance.tenant_id, directories__isnull=False
    )
    changed, events = [], []
    for identity in people.order_by("pk"):
        if instance.pk not in identity.directories:
            continue
        before = list(identity.directories)
        identity.directories = [pk for pk in before if pk != instance.pk]
        changed.append(identity)
        events.append(
            event_for(
                "identity.directory_removed",
                actor="system",
                tenant=instance.tenant,  # theirs: no read of it per person
                target=identity,
                before={"directories": before},
                after={"directories": identity.directories, "removed": instance.label},
            )
        )
    Identity.objects.bulk_update(changed, ["directories"], batch_size=500)
    record_all(events)


def connect() -> None:
    post_delete.connect(
        connection_deleted, sender=DirectoryConnection, dispatch_uid="directory_lists"
    )
