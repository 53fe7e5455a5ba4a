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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from portal.audit.events import record
from provisioning import lifecycle
from provisioning.connectors.factory import connector_type
from provisioning.engine.desired import (
    ACCESS_KINDS,
    KEEP,
    MANAGED,
    STRIP,
    DesiredState,
    desired_for,
    live_grants_by_person,
    template_access,
)
from provisioning.inventory import scope
from provisioning.inventory.models import Account, Cursor, Drift, Person, Resource
from provisioning.jobs import new_job
from provisioning.models import Batch, DirectoryAccount, Identity, Job
from tenants.models import DirectoryConnection, Tenant

Kind, Status = Drift.Kind, Drift.Status
IN_FLIGHT = (Job.Status.QUEUED, Job.Status.RUNNING, Job.Status.WAITING)
# Jobs that keep auto-converge from asking another one (a held one waits for a person).
UNFINISHED = (*IN_FLIGHT, Job.Status.HELD)
# Accepting these changes the desired state, so the difference is gone after it.
ACCEPT_CHANGES_DESIRED = (Kind.EXTRA, Kind.MISSING)
CONVERGIBLE = (Status.OPEN, Status.DISMISSED)
ACCEPTABLE = (Status.OPEN, Status.DISMISSED)
REASON_MIN, REASON_MAX = 3, 500
NOUNS = {"groups": "group", "licenses": "licence", "apps": "app"}
REF_ID_LENGTH = Drift._meta.get_field("ref_id").max_length
NAME_LENGTH = Drift._meta.get_field("ref_name").max_length
DETAIL_LENGTH = Drift._meta.get_field("detail").max_length
BATCH = 500


class DriftError(Exception):
    """An action a drift item does not allow (said to the person as it is)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# -- the comparison ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """One difference, before it is a row."""

    kind: str
    access_kind: str = ""
    ref_id: str = ""
    ref_name: str = ""
    detail: str = ""


class Catalog:
    """A connection's groups, licences and apps by id and by name (its Resource rows)."""

    def __init__(self, rows: Iterable[tuple[str, str, str, dict]]) -> None:
        self.names: dict[str, dict[str, str]] = defaultdict(dict)
        self.ids_by_name: dict[str, dict[str, str]] = defaultdict(dict)
        self.directory_kept: dict[str, set[str]] = defaultdict(set)
        for kind, remote_id, name, detail in rows:
            self.names[kind][remote_id] = name
            self.ids_by_name[kind].setdefault(name.casefold(), remote_id)
            if detail.get("dynamic") or detail.get("builtin"):
                self.directory_kept[kind].add(remote_id)

    @classmethod
    def of(cls, connection_id: int) -> Catalog:
        return cls(
            Resource.objects.filter(connection_id=connection_id).values_list(
                "kind", "remote_id", "name", "detail"
            )
        )

    def knows(self, kind: str) -> bool:
        return bool(self.names.get(kind))

    def resolve(self, kind: str, wanted: str) -> str | None:
        """The id of a name or id as a template or grant gives it (any case), or None."""
        if wanted in self.names[kind]:
            return wanted
        return self.ids_by_name[kind].get(wanted.strip().casefold())

    def name(self, kind: str, remote_id: str) -> str:
        return self.names[kind].get(remote_id, remote_id)


def compare(
    desired: DesiredState,
    account: Account | None,
    catalog: Catalog,
    *,
    kinds: tuple[str, ...] = ACCESS_KINDS,
    who: str = "",
) -> list[Found]:
    """The differences between one account's row (None: not in the inventory) and the
    desired state in its directory. `kinds`: the access kinds the directory has."""
    if account is None or account.deleted:
        if desired.present and not desired.leaving:
            where = "is in the deleted items" if account is not None else "is gone"
            return [Found(Kind.VANISHED, ref_id="account", detail=f"The linked account {where}.")]
        return []
    if not desired.present:
        detail = "The account is in the directory, but the person should have none now."
        return [Found(Kind.STATE, ref_id="present", detail=detail)]
    found = _state(desired, account, who)
    for kind in kinds:
        if catalog.knows(kind):  # no catalogue yet: names cannot be told apart from ids
            found += _access(desired, account, catalog, kind)
    return found


def _state(desired: DesiredState, account: Account, who: str) -> list[Found]:
    who = who or "the person"
    if desired.enabled is True and not account.enabled:
        detail = f"Sign-in is blocked in the directory, but {who} should be able to sign in."
    elif desired.enabled is False and account.enabled:
        why = "is leaving" if desired.leaving else "may not sign in yet"
        detail = f"Sign-in is allowed in the directory, but {who} {why}."
    else:
        return []
    return [Found(Kind.STATE, ref_id="sign-in", detail=detail)]


def _access(desired: DesiredState, account: Account, catalog: Catalog, kind: str) -> list[Found]:
    held = set(_held(account, kind))
    kept_by_directory = catalog.directory_kept[kind]
    noun = NOUNS[kind]
    found, wanted_ids = [], set()
    for wanted in desired.wanted(kind):
        remote_id = catalog.resolve(kind, wanted)
        if remote_id is None:
            detail = f"Wanted {noun} “{wanted}” is not in this directory."
            found.append(Found(Kind.MISSING, kind, wanted[:REF_ID_LENGTH], wanted, detail))
            continue
        wanted_ids.add(remote_id)
        if remote_id not in held and remote_id not in kept_by_directory:
            name = catalog.name(kind, remote_id)
            detail = f"Should hold the {noun} {name}."
            found.append(Found(Kind.MISSING, kind, remote_id, name, detail))
    mode = desired.removal.get(kind, MANAGED)
    if mode == KEEP:
        return found
    kept = {k.casefold() for k in desired.keep_groups} if kind == "groups" else set()
    for remote_id in sorted(held - wanted_ids - kept_by_directory):
        name = catalog.name(kind, remote_id)
        if mode == STRIP and (remote_id.casefold() in kept or name.casefold() in kept):
            continue
        why = "the leave strips it" if mode == STRIP else "no role, grant or exception gives it"
        detail = f"Holds the {noun} {name}: {why}."
        found.append(Found(Kind.EXTRA, kind, remote_id, name, detail))
    return found


def _held(account: Account, kind: str) -> list[str]:
    return {"groups": account.group_ids, "licenses": account.licence_ids, "apps": account.app_ids}[
        kind
    ] or []


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
        licensed = connector_type(connection).supports_licences
        kinds = tuple(k for k in ACCESS_KINDS if k != "licenses" or licensed)
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


# People whose live accounts are all in scope and who have no identity: the portal may manage
# them and nobody does (over the Person rows' summary, which the People page filters too).
UNMANAGED = Q(identity__isnull=True, in_scope=True, accounts_count__gt=0)


def unmanaged_people(tenant: Tenant) -> QuerySet[Person]:
    """The tenant's people nobody manages, queried live: never stored as Drift rows, so
    50,000 of them cost no writes."""
    return Person.objects.filter(UNMANAGED, tenant=tenant)


# -- converge ---------------------------------------------------------------------------------


def converge(drift: Drift, by, *, http_request=None) -> Job:
    """A reconciliation of the item's person; the item is converging until the next detect
    after the job ends finds it gone (resolved) or still there (open again)."""
    return converge_person(drift.person, by, items=[drift.pk], http_request=http_request)


def converge_person(
    person: Person, by, *, items: list[int] | None = None, http_request=None, hold_in=None
) -> Job:
    """One reconciliation for the person's open items (or `items` of them). Extra access is
    made the portal's to remove first (added to `DirectoryAccount.managed`): a job takes
    away from an active person only what the portal gave."""
    if person.identity_id is None:
        raise DriftError("Nobody manages this person: adopt them first.")
    with transaction.atomic():
        identity = Identity.objects.select_for_update().get(pk=person.identity_id)
        chosen = Drift.objects.select_for_update().filter(person=person)
        wanted = {"status": Status.OPEN} if items is None else {"pk__in": items}
        chosen = list(chosen.filter(status__in=CONVERGIBLE, **wanted).select_related("connection"))
        if not chosen:
            raise DriftError("Nothing open to converge for this person.")
        _give_removal(identity, [d for d in chosen if d.kind == Kind.EXTRA])
        job = new_job(
            identity,
            Job.Kind.RECONCILE,
            {"drift": [d.pk for d in chosen]},
            actor=by,
            at=None,
            batch=hold_in,
            hold=hold_in is not None,
        )
        Drift.objects.filter(pk__in=[d.pk for d in chosen]).update(
            status=Status.CONVERGING, job=job
        )
        record(
            "drift.converge",
            actor=by,
            tenant=identity.tenant,
            target=identity,
            before={"items": [_described(d) for d in chosen]},
            after={"job": job.pk, "status": job.status},
            request=http_request,
            job_id=job.pk,
        )
    return job


def _give_removal(identity: Identity, extra: list[Drift]) -> None:
    by_connection: dict[int, list[Drift]] = defaultdict(list)
    for item in extra:
        by_connection[item.connection_id].append(item)
    for connection_id, items in by_connection.items():
        account = DirectoryAccount.objects.filter(
            identity=identity, connection_id=connection_id
        ).first()
        if account is None:
            continue
        managed = {k: list(v) for k, v in (account.managed or {}).items()}
        for item in items:
            refs = managed.setdefault(item.access_kind, [])
            if all(r.get("id") != item.ref_id for r in refs):
                refs.append({"id": item.ref_id, "name": item.ref_name})
        account.managed = managed
        account.save(update_fields=["managed"])


def auto_converge(tenant: Tenant, person_ids: set[int]) -> tuple[int, int]:
    """A reconciliation for each person with new drift, unless one is under way or held.
    More people than the tenant's mass-change limit are held in one batch for an MSP
    admin's confirmation, as the lifecycle holds mass offboarding. (converged, held)."""
    busy = Job.objects.filter(identity=OuterRef("identity_id"), status__in=UNFINISHED)
    people = list(
        Person.objects.filter(pk__in=person_ids, identity__isnull=False)
        .exclude(Exists(busy))
        .order_by("pk")
    )
    if not people:
        return 0, 0
    batch = _hold_batch(tenant, len(people))
    for person in people:
        try:
            converge_person(person, "system", hold_in=batch)
        except DriftError:
            continue
    record(
        "drift.auto_converge",
        actor="system",
        tenant=tenant,
        target=("batch", batch.pk, str(batch)) if batch else None,
        after={
            "people": [p.pk for p in people],
            "held": batch is not None,
            "reason": batch.hold_reason if batch else "",
        },
    )
    held = len(people) if batch else 0
    return len(people) - held, held


def _hold_batch(tenant: Tenant, people: int) -> Batch | None:
    managed = lifecycle.managed_count(tenant)
    limit = tenant.offboard_hold_limit(managed)
    if people <= 1 or people <= limit:
        return None
    # No batch kind of drift's own (that needs a migration): held runs are confirmed on the
    # schedule page, where scheduled leavers' are.
    batch = Batch.objects.create(
        tenant=tenant,
        kind=Batch.Kind.SCHEDULE,
        rows_total=people,
        rows_valid=people,
        options={"drift": True},
    )
    lifecycle.hold_batch(
        batch,
        f"Auto-converge of drift would change {people} of {managed} managed people; more "
        f"than {limit} at once needs an MSP admin's confirmation.",
    )
    return batch


# -- accept and dismiss -----------------------------------------------------------------------


def clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not REASON_MIN <= len(reason) <= REASON_MAX:
        raise DriftError(f"Give a reason of {REASON_MIN} to {REASON_MAX} characters.")
    return reason


def why_not_acceptable(drift: Drift) -> str:
    """Why the item cannot be accepted ("" when it can)."""
    if drift.status not in ACCEPTABLE:
        return f"It is {drift.get_status_display().lower()}."
    identity = drift.identity
    if identity is None:
        return "Nobody manages this person."
    if drift.kind == Kind.EXTRA and identity.status in lifecycle.LEAVING:
        return "A leave removes what it strips whatever the exceptions: converge or dismiss it."
    if drift.kind == Kind.MISSING and _going_without(identity, drift) is None:
        return (
            "The person's roles, extra groups or grants give it: change those (a move) to "
            "go without it."
        )
    return ""


def accept(drift: Drift, reason: str, by, *, http_request=None) -> Drift:
    """EXTRA: the access becomes an exception of the person in that directory (part of the
    desired state: no job removes it). MISSING: the person goes without it (a licence by
    the licence choice "go without", an exception by dropping it). STATE, VANISHED: an
    acknowledgement with its reason (the periodic reconciliation still converges them)."""
    reason = clean_reason(reason)
    with transaction.atomic():
        drift = Drift.objects.select_for_update().select_related("identity").get(pk=drift.pk)
        if refusal := why_not_acceptable(drift):
            raise DriftError(f"This item cannot be accepted. {refusal}")
        identity = Identity.objects.select_for_update().get(pk=drift.identity_id)
        before = _desired_inputs(identity)
        if drift.kind == Kind.EXTRA:
            _add_exception(identity, drift)
        elif drift.kind == Kind.MISSING:
            _go_without(identity, drift)
        _decide(drift, Status.ACCEPTED, reason, by)
        record(
            "drift.accept",
            actor=by,
            tenant=drift.tenant,
            target=identity,
            before={"item": _described(drift), **before},
            after={"reason": reason, "status": drift.status, **_desired_inputs(identity)},
            request=http_request,
        )
    return drift


def dismiss(drift: Drift, reason: str, by, *, http_request=None) -> Drift:
    """Not worth acting on now: hidden from the open items while the difference persists;
    if it goes and comes back, it opens again."""
    reason = clean_reason(reason)
    with transaction.atomic():
        drift = Drift.objects.select_for_update().get(pk=drift.pk)
        if drift.status != Status.OPEN:
            raise DriftError(f"Only an open item can be dismissed; this one is {drift.status}.")
        _decide(drift, Status.DISMISSED, reason, by)
        record(
            "drift.dismiss",
            actor=by,
            tenant=drift.tenant,
            target=drift.identity or ("inventory.person", drift.person_id, str(drift.person)),
            before={"item": _described(drift)},
            after={"reason": reason, "status": drift.status},
            request=http_request,
        )
    return drift


def _decide(drift: Drift, status: str, reason: str, by) -> None:
    drift.status, drift.reason = status, reason
    drift.resolved_at, drift.resolved_by = timezone.now(), by if getattr(by, "pk", None) else None
    drift.save(update_fields=["status", "reason", "resolved_at", "resolved_by"])


def _add_exception(identity: Identity, drift: Drift) -> None:
    exceptions = {k: dict(v) for k, v in (identity.access_exceptions or {}).items()}
    mine = exceptions.setdefault(str(drift.connection_id), {})
    refs = list(mine.get(drift.access_kind, []))
    if all(r.get("id") != drift.ref_id for r in refs):
        refs.append({"id": drift.ref_id, "name": drift.ref_name})
    mine[drift.access_kind] = refs
    identity.access_exceptions = exceptions
    identity.save(update_fields=["access_exceptions", "updated_at"])


def _going_without(identity: Identity, drift: Drift) -> tuple[str, str] | None:
    """How the desired state can drop this wanted access: ("exception", ref) when an
    exception gives it, ("licence", sku) when a role's licence does; None otherwise."""
    names = {drift.ref_id.casefold(), drift.ref_name.casefold()}
    exceptions = (identity.access_exceptions or {}).get(str(drift.connection_id), {})
    for ref in exceptions.get(drift.access_kind, []):
        if {str(ref.get("id", "")).casefold(), str(ref.get("name", "")).casefold()} & names:
            return ("exception", ref.get("id") or ref.get("name"))
    if drift.access_kind == "licenses":
        choices = identity.license_choices or {}
        for sku in template_access(identity)["licenses"]:
            if str(choices.get(sku, sku)).casefold() in names:
                return ("licence", sku)
    return None


def _go_without(identity: Identity, drift: Drift) -> None:
    how, ref = _going_without(identity, drift)
    if how == "exception":
        exceptions = {k: dict(v) for k, v in (identity.access_exceptions or {}).items()}
        mine = exceptions[str(drift.connection_id)]
        mine[drift.access_kind] = [
            r for r in mine.get(drift.access_kind, []) if (r.get("id") or r.get("name")) != ref
        ]
        identity.access_exceptions = exceptions
        identity.save(update_fields=["access_exceptions", "updated_at"])
    else:
        # Per person, not per directory: licences exist in Entra only.
        identity.license_choices = {**(identity.license_choices or {}), ref: ""}
        identity.save(update_fields=["license_choices", "updated_at"])


def _desired_inputs(identity: Identity) -> dict:
    return {
        "access_exceptions": identity.access_exceptions or {},
        "license_choices": identity.license_choices or {},
    }


def _described(drift: Drift) -> dict:
    return {
        "id": drift.pk,
        "kind": drift.kind,
        "connection": drift.connection_id,
        "access": drift.access_kind,
        "ref": drift.ref_id,
        "name": drift.ref_name,
        "detail": drift.detail,
        "status": drift.status,
    }


# -- what the pages read ----------------------------------------------------------------------


@dataclass
class Entry:
    """An item as a page lists it, with the actions it allows."""

    item: Drift
    can_converge: bool
    can_dismiss: bool
    not_acceptable: str  # why it cannot be accepted ("" when it can)


@dataclass
class PersonDrift:
    """A person's items, as one block of the report or of the person's page."""

    person: Person
    entries: list[Entry]

    @property
    def open_count(self) -> int:
        return sum(e.item.status == Status.OPEN for e in self.entries)


def entry(item: Drift) -> Entry:
    return Entry(
        item,
        can_converge=item.status in CONVERGIBLE and item.identity_id is not None,
        can_dismiss=item.status == Status.OPEN,
        not_acceptable=why_not_acceptable(item),
    )


def blocks(people: Iterable[Person], rows: QuerySet[Drift]) -> list[PersonDrift]:
    """The items of `rows` grouped per person, in the order of `people`."""
    people = list(people)
    by_person: dict[int, list[Entry]] = defaultdict(list)
    chosen = (
        rows.filter(person__in=people)
        .select_related("connection", "job", "identity", "resolved_by")
        .order_by("connection_id", "kind", "access_kind", "ref_name", "pk")
    )
    for item in chosen:
        by_person[item.person_id].append(entry(item))
    return [PersonDrift(p, by_person[p.pk]) for p in people]


def open_of(person: Person | None) -> PersonDrift | None:
    """A person's open and converging items (None for no person, or one nobody manages:
    drift is a managed person's)."""
    if not person or person.identity_id is None:
        return None
    rows = Drift.objects.filter(person=person, status__in=Drift.OPEN_STATES)
    return blocks([person], rows)[0]


def counts_by_status(tenant: Tenant) -> dict[str, int]:
    rows = Drift.objects.filter(tenant=tenant).values("status").annotate(n=Count("id")).order_by()
    return {r["status"]: r["n"] for r in rows}
