"""The catalogue of each connection's groups, licence SKUs and apps (Resource rows): what
turns the ids an account holds into names, and a template's names into ids.

Inventory reads keep it current: a full read lists every kind through the connector; an
incremental one renames the groups the groups delta shows and lists a kind again only when
the read meets an id the catalogue lacks (a group made, a SKU bought since).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from provisioning.connectors.base import Resource as Listed
from provisioning.engine.desired import ACCESS_KINDS
from provisioning.inventory.models import Resource
from tenants.models import DirectoryConnection

KINDS = ACCESS_KINDS  # groups | licenses | apps


def read_kinds(connector) -> tuple[str, ...]:
    """The access kinds an inventory read finds on the accounts of this connector's
    directory: groups with `group_changes`, apps with `app_users`, licences where it sells
    them. The read asks for those; drift compares only those (a SCIM app has neither read:
    its groups' members are unknown to the inventory, so they are no drift)."""
    reads = {
        "groups": hasattr(connector, "group_changes"),
        "licenses": getattr(connector, "supports_licences", False),
        "apps": hasattr(connector, "app_users"),
    }
    return tuple(kind for kind in ACCESS_KINDS if reads[kind])


def names(connection: DirectoryConnection, kind: str) -> dict[str, str]:
    """id -> name of the connection's resources of `kind`."""
    return dict(_of(connection, kind).values_list("remote_id", "name"))


def resolve(connection: DirectoryConnection, kind: str, name_or_id: str) -> Resource | None:
    """The resource whose id is exactly `name_or_id`, else whose name is it in any case."""
    wanted = name_or_id.strip()
    if not wanted:
        return None
    rows = _of(connection, kind)
    return (
        rows.filter(remote_id=wanted).first()
        or rows.filter(name__iexact=wanted).order_by("pk").first()
    )


def store(connection: DirectoryConnection, kind: str, listed: Iterable[Listed]) -> None:
    """Make the catalogue of `kind` what the directory listed: new rows added, names and
    details updated (details merged: what the inventory noted itself, such as when an app's
    assignments were read, stays), rows no longer listed removed."""
    listed = {item.id: item for item in listed}
    known = {row.remote_id: row for row in _of(connection, kind)}
    new = [
        Resource(
            connection=connection,
            kind=kind,
            remote_id=item.id,
            name=item.name[:256],
            detail=dict(item.detail),
        )
        for item in listed.values()
        if item.id not in known
    ]
    changed = []
    for remote_id, row in known.items():
        item = listed.get(remote_id)
        if item is None:
            continue
        detail = {**row.detail, **item.detail}
        if (row.name, row.detail) != (item.name[:256], detail):
            row.name, row.detail = item.name[:256], detail
            changed.append(row)
    with transaction.atomic():
        _of(connection, kind).exclude(remote_id__in=list(listed)).delete()
        Resource.objects.bulk_create(new, batch_size=500)
        Resource.objects.bulk_update(changed, ["name", "detail"], batch_size=500)


def rename(connection: DirectoryConnection, kind: str, seen: dict[str, str]) -> None:
    """New names of known resources (a delta read shows a group's displayName)."""
    rows = [
        row
        for row in _of(connection, kind).filter(remote_id__in=list(seen))
        if seen[row.remote_id] and row.name != seen[row.remote_id][:256]
    ]
    for row in rows:
        row.name = seen[row.remote_id][:256]
    Resource.objects.bulk_update(rows, ["name"], batch_size=500)


def forget(connection: DirectoryConnection, kind: str, ids: Iterable[str]) -> None:
    """Resources the directory says are deleted."""
    ids = list(ids)
    if ids:
        _of(connection, kind).filter(remote_id__in=ids).delete()


def lacking(connection: DirectoryConnection, kind: str, ids: Iterable[str]) -> set[str]:
    """The ids the catalogue does not know."""
    wanted = set(ids)
    if not wanted:
        return set()
    known = set(_of(connection, kind).values_list("remote_id", flat=True))
    return wanted - known


def empty(connection: DirectoryConnection, kind: str) -> bool:
    return not _of(connection, kind).exists()


def note(connection: DirectoryConnection, kind: str, ids: Iterable[str], **detail) -> None:
    """Add `detail` to the details of these resources (the inventory's own notes)."""
    rows = list(_of(connection, kind).filter(remote_id__in=list(ids)))
    for row in rows:
        row.detail = {**row.detail, **detail}
    Resource.objects.bulk_update(rows, ["detail"], batch_size=500)


def _of(connection: DirectoryConnection, kind: str):
    if kind not in KINDS:
        raise ValueError(f"unknown kind of resource {kind!r}; one of {', '.join(KINDS)}")
    return Resource.objects.filter(connection=connection, kind=kind)
