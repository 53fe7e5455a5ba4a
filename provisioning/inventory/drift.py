"""Drift: what the directories show (the inventory's rows) against what the portal wants (the
engine's desired state), per managed person and directory, kept as Drift rows a person can
converge, accept or dismiss.

`detect(tenant)` reads no directory: the inventory is the observed state, so it runs at the
end of every inventory read. For each managed identity and each linked account of a
connection the inventory has read, `desired_for(identity, connection)` is compared with the
account's row:

- MISSING: a group, licence or app the desired state wants and the account lacks (names
  resolved to ids through the connection's Resource rows; rule-based groups are the
  directory's to fill and never missing).
- EXTRA: access held that nothing explains. Held minus wanted, where wanted already holds the
  live grants and the recorded exceptions (`Identity.access_exceptions`), minus what the
  directory manages itself (rule-based and built-in groups). A leaver whose leave strips a
  kind keeps only the kept groups; a leave that keeps a kind has nothing extra of it.
  The same rule holds for a person the portal onboarded and one it adopted: access given by
  hand, before or after, is an exception only once recorded (adoption records what no
  template explains; accepting an item records it). `DirectoryAccount.managed` (what the
  portal itself added) does not narrow it: it decides what a job may remove on its own,
  not what the report shows.
- STATE: sign-in allowed for someone who should be blocked (a leaver, a joiner created
  ahead), blocked for someone who should sign in; or an account that should not exist
  (a deleted person). `enabled is None` (a leave that keeps sign-in) is not checked.
- VANISHED: the linked account's row is gone or deleted while the person should have an
  account (not a leaver: the portal does not bring a leaver's account back).
- In-scope accounts nobody manages are not rows: `unmanaged_people(tenant)` queries the
  Person rows live, so 50,000 unmanaged accounts cost no writes.

A person with a job queued, running or waiting is skipped (their drift is the engine's work),
and so is a directory whose last read started before the person's last job ended (the rows
do not show that job yet) or that has not been read in full. Their items stay as they were.
An out-of-scope account is not compared (the portal never changes it).

Items are kept by (person, connection, kind, access kind, ref id): found again, an open item
gets `last_seen_at`; gone, it is resolved. An accepted or dismissed item is not opened again
while the difference persists; a dismissed one is resolved when the difference goes, so it
opens anew if it comes back. An accepted EXTRA or MISSING item changed the desired state,
so the difference goes at once; the item stays accepted, the record of that decision.

The comparison itself is in drift_compare.py, what a person does with an item (converge,
accept, dismiss, auto-converge) in drift_actions.py, and what the pages read in queries_drift.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from provisioning.connectors.factory import connector_type
from provisioning.engine.desired import desired_for, live_grants_by_person
from provisioning.inventory import drift_events, scope
from provisioning.inventory.catalog import read_kinds
from provisioning.inventory.drift_actions import (
    ACCEPT_CHANGES_DESIRED,
    IN_FLIGHT,
    Kind,
    Status,
    auto_converge,
)
from provisioning.inventory.drift_compare import REF_ID_LENGTH, Catalog, Found, compare
from provisioning.inventory.models import Account, Cursor, Drift, Person
from provisioning.inventory.queries_drift import unmanaged_people
from provisioning.models import DirectoryAccount, Job
from tenants.models import DirectoryConnection, Tenant

NAME_LENGTH = Drift._meta.get_field("ref_name").max_length
DETAIL_LENGTH = Drift._meta.get_field("detail").max_length
BATCH = 500


# -- detect -----------------------------------------------------------------------------------


@dataclass
class _Observed:
    connection: DirectoryConnection
    read_at: datetime  # the start of the last read that got to its end
    catalog: Catalog
    kinds: tuple[str, ...]


def detect(tenant: Tenant, *, now: datetime | None = None) -> dict:
    """Create, refresh and resolve the tenant's Drift rows from its inventory; converge the
    people with new drift when the tenant's policy says so. Returns what it did, in counts."""
    now = now or timezone.now()
    observed = _observed(tenant)
    policy = scope.policy_of(tenant)
    links = _links(tenant, observed)
    busy = _busy(links)
    ended = _last_ended(links)
    accounts = _accounts(links)
    people = _people(links)
    grants = live_grants_by_person(identity__tenant=tenant)
    found: dict[tuple, tuple[Found, int, int | None]] = {}
    judged: set[tuple[int, int]] = set()  # (person, connection) pairs compared this time
    checked, skipped = set(), set()
    for link in links:
        identity, seen = link.identity, observed[link.connection_id]
        pair = (people[identity.pk], link.connection_id)
        if identity.pk in busy or (ended.get(identity.pk) or seen.read_at) > seen.read_at:
            skipped.add(identity.pk)
            continue
        checked.add(identity.pk)
        judged.add(pair)
        row = accounts.get((link.connection_id, link.remote_id))
        if row is not None and not row.deleted and not scope.account_in_scope(policy, row)[0]:
            continue  # the portal never changes it: nothing to converge
        desired = desired_for(
            identity, seen.connection, grants=grants.get((identity.pk, seen.connection.pk), [])
        )
        if not desired.managed_here:
            continue  # an account linked in a directory they are not managed in: left alone
        who = identity.display_name
        for item in compare(desired, row, seen.catalog, kinds=seen.kinds, who=who):
            key = (*pair, item.kind, item.access_kind, item.ref_id)
            found[key] = (item, identity.pk, row.pk if row else None)
    counts, opened_people = _store(tenant, found, judged, set(observed), skipped, now)
    counts |= {
        "people_checked": len(checked),
        "people_skipped": len(skipped - checked),
        "unmanaged": unmanaged_people(tenant).count(),
    }
    counts["auto_converged"], counts["held"] = 0, 0
    if policy.auto_converge and opened_people:
        counts["auto_converged"], counts["held"] = auto_converge(tenant, opened_people)
    return counts


def _observed(tenant: Tenant) -> dict[int, _Observed]:
    """The tenant's connections whose last read got to its end after a full read."""
    cursors = Cursor.objects.filter(
        connection__tenant=tenant,
        state=Cursor.State.IDLE,
        full_read_at__isnull=False,
        started_at__isnull=False,
        finished_at__isnull=False,
    ).select_related("connection")
    found = {}
    for cursor in cursors:
        connection = cursor.connection
        kinds = read_kinds(connector_type(connection))
        found[connection.pk] = _Observed(
            connection, cursor.started_at, Catalog.of(connection.pk), kinds
        )
    return found


def _links(tenant: Tenant, observed: dict) -> list[DirectoryAccount]:
    return list(
        DirectoryAccount.objects.filter(identity__tenant=tenant, connection_id__in=list(observed))
        .exclude(remote_id="")
        .select_related("identity", "identity__tenant")
        .prefetch_related("identity__role_templates")
        .order_by("identity_id", "connection_id")
    )


def _identity_ids(links: list[DirectoryAccount]) -> list[int]:
    return sorted({link.identity_id for link in links})


def _busy(links: list[DirectoryAccount]) -> set[int]:
    ids = _identity_ids(links)
    busy = set()
    for start in range(0, len(ids), BATCH):
        busy.update(
            Job.objects.filter(
                identity_id__in=ids[start : start + BATCH], status__in=IN_FLIGHT
            ).values_list("identity_id", flat=True)
        )
    return busy


def _last_ended(links: list[DirectoryAccount]) -> dict[int, datetime]:
    """When each person's last job ended: a read that started before it does not show it."""
    ids = _identity_ids(links)
    ended: dict[int, datetime] = {}
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        rows = (
            Job.objects.filter(identity_id__in=chunk, finished_at__isnull=False)
            .values("identity_id")
            .annotate(last=Max("finished_at"))
            .order_by()
        )
        ended.update({r["identity_id"]: r["last"] for r in rows})
    return ended


def _accounts(links: list[DirectoryAccount]) -> dict[tuple[int, str], Account]:
    by_connection: dict[int, list[str]] = defaultdict(list)
    for link in links:
        by_connection[link.connection_id].append(link.remote_id)
    found = {}
    for connection_id, remote_ids in by_connection.items():
        for start in range(0, len(remote_ids), BATCH):
            rows = Account.objects.filter(
                connection_id=connection_id, remote_id__in=remote_ids[start : start + BATCH]
            )
            found.update({(connection_id, a.remote_id): a for a in rows})
    return found


def _people(links: list[DirectoryAccount]) -> dict[int, int]:
    """The Person row of each linked identity (made when missing)."""
    ids = _identity_ids(links)
    people = {}
    for start in range(0, len(ids), BATCH):
        people.update(
            Person.objects.filter(identity_id__in=ids[start : start + BATCH]).values_list(
                "identity_id", "pk"
            )
        )
    lacking = {link.identity for link in links if link.identity_id not in people}
    if lacking:
        from provisioning.inventory import matching  # lane people's module

        for identity in lacking:
            people[identity.pk] = matching.person_for_identity(identity).pk
    return people


def _store(
    tenant: Tenant,
    found: dict,
    judged: set[tuple[int, int]],
    observed: set[int],
    skipped: set[int],
    now: datetime,
) -> tuple[dict, set[int]]:
    """Upsert the items found; resolve the current ones no longer found where the person's
    account was compared (or no longer exists to compare)."""
    current = _current(tenant)
    new, touched, resolved, opened_people = [], [], [], set()
    for key, (item, identity_id, account_id) in found.items():
        row = current.pop(key, None)
        if row is not None and row.status == Status.ACCEPTED and row.kind in ACCEPT_CHANGES_DESIRED:
            resolved.append(row.pk)  # its acceptance no longer holds: a new difference
            row = None
        if row is None:
            new.append(_new_row(tenant, key, item, identity_id, account_id, now))
            opened_people.add(key[0])
            continue
        row.last_seen_at, row.detail, row.ref_name = now, item.detail, item.ref_name[:NAME_LENGTH]
        row.account_id = account_id
        if row.status == Status.CONVERGING and (row.job is None or row.job.is_done):
            row.status = Status.OPEN  # the job ended and the difference is still there
        touched.append(row)
    for key, row in current.items():
        person_id, connection_id = key[0], key[1]
        kept_by_decision = row.status == Status.ACCEPTED and row.kind in ACCEPT_CHANGES_DESIRED
        if kept_by_decision or connection_id not in observed:
            continue
        if (person_id, connection_id) in judged or row.identity_id not in skipped:
            resolved.append(row.pk)
    with transaction.atomic():
        Drift.objects.bulk_create(new, batch_size=BATCH)
        if new:
            drift_events.emit_new_drift(tenant, new)
        Drift.objects.bulk_update(
            touched, ["last_seen_at", "detail", "ref_name", "account", "status"], batch_size=BATCH
        )
        for start in range(0, len(resolved), BATCH):
            Drift.objects.filter(pk__in=resolved[start : start + BATCH]).update(
                status=Status.RESOLVED, resolved_at=now
            )
    counts = {"opened": len(new), "still_open": len(touched), "resolved": len(resolved)}
    return counts, opened_people


def _current(tenant: Tenant) -> dict[tuple, Drift]:
    """The tenant's items not resolved, by key (the newest where a key has several)."""
    current: dict[tuple, Drift] = {}
    rows = (
        Drift.objects.filter(tenant=tenant)
        .exclude(status=Status.RESOLVED)
        .exclude(kind=Kind.UNMANAGED)
        .select_related("job")
        .order_by("pk")
    )
    for row in rows:
        current[(row.person_id, row.connection_id, row.kind, row.access_kind, row.ref_id)] = row
    return current


def _new_row(tenant, key, item: Found, identity_id, account_id, now) -> Drift:
    person_id, connection_id = key[0], key[1]
    return Drift(
        tenant=tenant,
        person_id=person_id,
        identity_id=identity_id,
        connection_id=connection_id,
        account_id=account_id,
        kind=item.kind,
        access_kind=item.access_kind,
        ref_id=item.ref_id[:REF_ID_LENGTH],
        ref_name=item.ref_name[:NAME_LENGTH],
        detail=item.detail[:DETAIL_LENGTH],
        status=Status.OPEN,
        found_at=now,
        last_seen_at=now,
    )
