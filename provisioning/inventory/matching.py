"""Which accounts of a tenant's directories are one person, by the tenant's matching rule.

Every account gets a key from the rule (Policy.match_on): its username casefolded (Entra
UPN, Okta login), its mail, its employee id, or one of its attributes; accounts with the same
key are one Person. An account linked to a managed Identity by a DirectoryAccount
(connection, remote id) belongs to that identity's person whatever its key. An account
without a key is a person of its own ("account:<pk>"), as is a managed identity without one
("identity:<pk>"). A key matches a managed identity only to accounts in the directories
the identity is managed in (`Identity.directories`): the others' accounts with its key are
a person nobody manages ("outside:<identity pk>"), as an auditor must see them, not the
portal's because a username is alike. Only a link (the portal's own) crosses that line.

Person rows carry the summary the People page lists and filters (name, username, mail,
enabled, licensed, last sign-in, in scope, live accounts), so that a page of 50,000 people
needs no join. rematch() rebuilds a tenant's rows in a few bulk statements; the two hooks
below keep a managed person's row current between inventory reads (an onboarding makes its
Identity before any account exists).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Case, F, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Concat, Trim
from django.utils import timezone

from portal import kept_sql
from portal.bulk_rows import set_many, update_sql
from provisioning.engine import memo
from provisioning.engine.desired import manages
from provisioning.inventory.models import Account, Person, Policy
from provisioning.models import DirectoryAccount, Identity
from provisioning.services import RidingRow
from tenants.models import DirectoryConnection, Tenant

logger = logging.getLogger(__name__)
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE for a NOWAIT row lock another holds
Connections = dict[int, DirectoryConnection]

BATCH = 500  # rows per bulk statement (Django splits further where SQLite caps parameters)
KEY_LENGTH = Person._meta.get_field("key").max_length
_LOCK_CLASS = 14_0001  # the first key of the advisory lock that serialises a tenant's matches
SUMMARY = [
    "display_name",
    "sort_name",
    "username",
    "mail",
    "employee_id",
    "search",
    "enabled",
    "licensed",
    "last_sign_in",
    "in_scope",
    "accounts_count",
]
# A managed person with no account yet (a joiner, say) counts as enabled while its lifecycle
# says it should be able to sign in.
_SIGNING_IN = {Identity.Status.JOINER, Identity.Status.ACTIVE}
# The Identity fields a Person row is made of (its key or its summary).
_SUMMARISED = {"username", "email", "employee_id", "display_name", "status", "attributes"}
# A save of these alone changes no key: the summary follows, the row and its accounts stay
# (a job's end: the status, with the engine's reconciliation time).
_STATUS_ONLY = {"status", "updated_at", "last_reconciled_at"}


class _Account(NamedTuple):
    """An account as matching reads it: no JSON decoded, the rule's value as text."""

    pk: int
    connection_id: int
    remote_id: str
    key_value: str | None  # the field the rule names (text of an attribute, in SQL)
    display_name: str  # the directory's, else first and last name (Okta has no display name)
    username: str
    mail: str
    employee_id: str
    enabled: bool
    in_scope: bool
    deleted: bool
    licensed: bool
    last_sign_in: datetime | None
    person_id: int | None


class _Identity(NamedTuple):
    pk: int
    username: str
    email: str
    employee_id: str
    display_name: str
    status: str
    attributes: dict
    directories: list[int] | None

    @property
    def mail(self) -> str:
        return self.email

    def manages(self, connection_id: int, connections: Connections) -> bool:
        """Whether the identity is managed in the connection, by the engine's rule."""
        return manages(self.directories, connections[connection_id])


_IDENTITY_FIELDS = list(_Identity._fields)


@dataclass
class _Wanted:
    """A person as the rule sees them now: their key, identity and accounts."""

    key: str
    identity: _Identity | None = None
    accounts: list[_Account] = field(default_factory=list)

    @property
    def live(self) -> list[_Account]:
        return [a for a in self.accounts if not a.deleted]


# --- keys ------------------------------------------------------------------------------------


def policy_for(tenant: Tenant | int) -> Policy:
    """The tenant's policy row, or the defaults (unsaved) when it has none yet."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    return Policy.objects.filter(tenant_id=tenant_id).first() or Policy(tenant_id=tenant_id)


def _fold(value: object) -> str:
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return str(value).strip().casefold()[:KEY_LENGTH]


def _key_source(policy: Policy):
    """The column (or the attribute, as text) the rule matches accounts on."""
    match policy.match_on:
        case Policy.MatchOn.MAIL:
            return F("mail")
        case Policy.MatchOn.EMPLOYEE_ID:
            return F("employee_id")
        case Policy.MatchOn.ATTRIBUTE if policy.match_attribute:
            return KT(f"attributes__{policy.match_attribute}")
        case Policy.MatchOn.ATTRIBUTE:
            return Value("")  # no attribute named yet: every account is a person of its own
        case _:
            return F("username")


def identity_key(policy: Policy, identity: _Identity | Identity) -> str:
    """The rule's value for a managed identity, casefolded; "" when it has none."""
    match policy.match_on:
        case Policy.MatchOn.MAIL:
            return _fold(identity.email)
        case Policy.MatchOn.EMPLOYEE_ID:
            return _fold(identity.employee_id)
        case Policy.MatchOn.ATTRIBUTE:
            return _fold((identity.attributes or {}).get(policy.match_attribute))
        case _:
            return _fold(identity.username)


def _accounts(policy: Policy, **where) -> Iterator[_Account]:
    """The accounts `where` selects, as matching reads them (by pk), in chunks: a tenant's
    thousands. (One person's: `_accounts_of_identity`.)"""
    rows = (
        Account.objects.filter(**where)
        .annotate(
            key_value=_key_source(policy),
            is_licensed=Case(When(licence_ids=[], then=False), default=True),
            name=Case(
                When(display_name="", then=Trim(Concat("first_name", Value(" "), "last_name"))),
                default="display_name",
            ),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "connection_id",
            "remote_id",
            "key_value",
            "name",
            "username",
            "mail",
            "employee_id",
            "enabled",
            "in_scope",
            "deleted",
            "is_licensed",
            "last_sign_in",
            "person_id",
        )
    )
    return (_Account(*row) for row in rows.iterator(chunk_size=5000))


# The columns of `_Account` stored as it holds them (the others are worked out).
_AS_STORED = (
    "pk",
    "connection_id",
    "remote_id",
    "username",
    "mail",
    "employee_id",
    "enabled",
    "in_scope",
    "deleted",
    "last_sign_in",
    "person_id",
)


def _accounts_of_identity(identity_id: int) -> list[_Account]:
    """The accounts of an identity's person, as `_accounts` reads them but with the display
    name and licensed flag worked out here, not in SQL: a job's end summarises one person,
    and compiling the annotations cost more than the few rows (no match key: a summary has
    no use for it)."""
    rows = kept_sql.rows("inventory: a person's accounts", _accounts_read, identity_id)
    stored = len(_AS_STORED)
    return [
        _Account(
            **dict(zip(_AS_STORED, row, strict=False)),
            key_value=None,
            # As `_accounts`' SQL: TRIM strips spaces only.
            display_name=display_name or f"{first_name} {last_name}".strip(" "),
            licensed=licence_ids != [],
        )
        for row in rows
        for display_name, first_name, last_name, licence_ids in [row[stored:]]
    ]


def _accounts_read(identity_id: int):
    """`_accounts_of_identity`'s read (its statement kept: portal/kept_sql.py)."""
    return (
        Account.objects.filter(person__identity_id=identity_id)
        .order_by("pk")
        .values_list(*_AS_STORED, "display_name", "first_name", "last_name", "licence_ids")
    )


# --- summaries -------------------------------------------------------------------------------


def _summary(identity: _Identity | None, accounts: list[_Account]) -> tuple:
    """The Person columns (SUMMARY's order) for an identity (or none) and its accounts."""
    live = [a for a in accounts if not a.deleted]
    if identity is not None:
        name, username = identity.display_name, identity.username
        mail, employee_id = identity.email, identity.employee_id
        enabled = any(a.enabled for a in live) if live else identity.status in _SIGNING_IN
    else:
        first = live[0]
        name = next((a.display_name for a in live if a.display_name), "")
        username = first.username
        mail = next((a.mail for a in live if a.mail), "")
        employee_id = next((a.employee_id for a in live if a.employee_id), "")
        enabled = any(a.enabled for a in live)
    name = name or username
    words = dict.fromkeys(
        value.casefold()
        for who in ([identity, *live] if identity else live)
        for value in (who.display_name, who.username, who.mail, who.employee_id)
        if value
    )
    sign_ins = [a.last_sign_in for a in live if a.last_sign_in]
    return (
        name[:256],
        name.casefold()[:256],
        username[:320],
        mail[:320],
        employee_id[:64],
        " ".join(words),
        enabled,
        any(a.licensed for a in live),
        max(sign_ins) if sign_ins else None,
        all(a.in_scope for a in live) if live else identity is not None,
        min(len(live), 32767),
    )


def _person(pk: int, summary: tuple, **more) -> Person:
    return Person(pk=pk, **dict(zip(SUMMARY, summary, strict=True)), **more)


def _connections(tenant_id: int) -> Connections:
    """The tenant's connections by id, for the engine's rule of who is managed where."""
    return {c.pk: c for c in DirectoryConnection.objects.filter(tenant_id=tenant_id)}


def outside_key(identity_id: int) -> str:
    """The key of the accounts bearing an identity's key in directories it is not managed in."""
    return f"outside:{identity_id}"


# --- the whole tenant ------------------------------------------------------------------------


def rematch(tenant: Tenant) -> None:
    """Match every account of the tenant to its person by the tenant's rule and rebuild the
    Person rows' summaries: people created, re-keyed, merged or removed, accounts moved.
    Reads the tenant's accounts, identities and people once; writes only what changed."""
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                _one_at_a_time(tenant)
                policy = policy_for(tenant)
                accounts = list(_accounts(policy, tenant=tenant))
                identities, links = _identities(tenant), _links(tenant)
                wanted = _wanted(policy, identities, links, accounts, _connections(tenant.pk))
                people = _store(tenant, wanted)
                _attach(accounts, wanted, people)
            return
        except IntegrityError:
            # An identity's hook made a person with a key this match meant to use, after
            # the match read the rows: read them again, once.
            if attempt == 2:
                raise
            logger.info("rematch of tenant %s met a new person; matching again", tenant.pk)


def _one_at_a_time(tenant: Tenant) -> None:
    """Two matches of one tenant (its Entra and Okta reads ending together) wait for each
    other: a transaction-scoped advisory lock on PostgreSQL (SQLite has one writer anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, tenant.pk])


def _identities(tenant: Tenant) -> list[_Identity]:
    rows = [
        _Identity(*row)
        for row in Identity.objects.filter(tenant=tenant).values_list(*_IDENTITY_FIELDS)
    ]
    # Who claims a key first when two share one: the living before the deleted, then the
    # older (a rehire's new identity does not take the person's history from the first).
    rows.sort(key=lambda i: (i.status == Identity.Status.DELETED, i.pk))
    return rows


def _links(tenant: Tenant) -> dict[tuple[int, str], int]:
    """(connection id, remote id) -> identity id, for the tenant's linked accounts."""
    rows = (
        DirectoryAccount.objects.filter(identity__tenant=tenant)
        .exclude(remote_id="")
        .values_list("connection_id", "remote_id", "identity_id")
    )
    return {(connection, remote): identity for connection, remote, identity in rows}


def _wanted(
    policy: Policy,
    identities: list[_Identity],
    links: dict[tuple[int, str], int],
    accounts: list[_Account],
    connections: Connections,
) -> dict[str, _Wanted]:
    """key -> the person the rule makes of the accounts and identities."""
    wanted: dict[str, _Wanted] = {}
    key_of_identity: dict[int, str] = {}
    for identity in identities:
        key = identity_key(policy, identity)
        if not key or key in wanted:
            key = f"identity:{identity.pk}"
        wanted[key] = _Wanted(key, identity)
        key_of_identity[identity.pk] = key
    gone: list[tuple[str, _Account]] = []
    for account in accounts:
        linked = links.get((account.connection_id, account.remote_id)) if links else None
        key = key_of_identity.get(linked) if linked else None
        if key is None:
            key = _fold(account.key_value) or f"account:{account.pk}"
            owner = wanted[key].identity if key in wanted else None
            if owner is not None and not owner.manages(account.connection_id, connections):
                key = outside_key(owner.pk)
        if account.deleted and key not in wanted:
            gone.append((key, account))
            continue
        person = wanted.get(key)
        if person is None:
            person = wanted[key] = _Wanted(key)
        person.accounts.append(account)
    # A deleted account stays with a person who is still there; alone, it is nobody.
    for key, account in gone:
        if key in wanted:
            wanted[key].accounts.append(account)
    return {key: person for key, person in wanted.items() if person.identity or person.live}


def _store(tenant: Tenant, wanted: dict[str, _Wanted]) -> dict[str, int]:
    """Bring the tenant's Person rows to what is wanted; key -> its row's pk."""
    existing = Person.objects.filter(tenant=tenant).values_list(
        "pk", "key", "identity_id", *SUMMARY
    )
    by_identity, by_key, stored = {}, {}, {}
    for pk, key, identity_id, *summary in existing:
        stored[pk] = (key, identity_id, tuple(summary))
        by_key[key] = pk
        if identity_id:
            by_identity[identity_id] = pk
    rows: dict[str, int] = {}
    claimed: set[int] = set()
    # A managed person keeps their row (and its history) whatever their key becomes.
    for key, want in wanted.items():
        if want.identity and want.identity.pk in by_identity:
            rows[key] = by_identity[want.identity.pk]
            claimed.add(rows[key])
    for key in wanted.keys() - rows.keys():
        pk = by_key.get(key)
        if pk is not None and pk not in claimed and stored[pk][1] is None:
            rows[key] = pk
            claimed.add(pk)
    stale = [pk for pk in stored if pk not in claimed]
    for start in range(0, len(stale), BATCH):
        Person.objects.filter(pk__in=stale[start : start + BATCH]).delete()
    now = timezone.now()
    new, changed, rekeyed = [], [], []
    for key, want in wanted.items():
        summary = _summary(want.identity, want.accounts)
        identity_id = want.identity.pk if want.identity else None
        pk = rows.get(key)
        if pk is None:
            row = _person(None, summary, tenant=tenant, key=key, identity_id=identity_id)
            row.updated_at = now
            new.append((key, row))
            continue
        old_key, old_identity, old_summary = stored[pk]
        if old_key != key:
            rekeyed.append((pk, f"rekey:{pk}"))
        if (old_key, old_identity, old_summary) != (key, identity_id, summary):
            changed.append((pk, key, identity_id, now, *summary))
    # Re-keyed rows take a placeholder key first, so that two rows swapping keys never hold
    # the same one in between (unique per tenant, checked row by row).
    set_many(Person, ["key"], rekeyed)
    set_many(Person, ["key", "identity", "updated_at", *SUMMARY], changed)
    Person.objects.bulk_create([person for _, person in new], batch_size=BATCH)
    rows.update((key, person.pk) for key, person in new)
    return rows


def _attach(accounts: list[_Account], wanted: dict[str, _Wanted], people: dict[str, int]):
    """Point every account at its person's row (None for a deleted account left alone)."""
    person_of = {a.pk: people[key] for key, want in wanted.items() for a in want.accounts}
    moved = [(a.pk, person_of.get(a.pk)) for a in accounts if a.person_id != person_of.get(a.pk)]
    set_many(Account, ["person"], moved)


# --- one person at a time --------------------------------------------------------------------


def person_for_identity(identity: Identity, *, wait: bool = True) -> Person:
    """The identity's Person row, created or re-keyed by the tenant's rule, with the accounts
    its DirectoryAccount links name (and those its key matches) attached. Without `wait`, a
    row of the key another transaction holds raises `OperationalError` (lock not available)
    instead of waiting for it, nothing of this done."""
    policy = policy_for(identity.tenant_id)
    with transaction.atomic():
        person = _claim_row(policy, identity, wait=wait)
        touched = {person.pk, *_set_aside(identity, person)}
        linked = _linked_accounts(identity)
        touched.update(p for p in linked.values_list("person_id", flat=True) if p)
        linked.exclude(person=person).update(person=person)
        refresh_people(Person.objects.filter(pk__in=touched))
    person.refresh_from_db()
    return person


def _claim_row(policy: Policy, identity: Identity, *, wait: bool = True) -> Person:
    """The identity's row under its current key: its own, or the unmanaged person holding
    the key (who becomes this identity's), or a new one. Rows it replaces hand over their
    accounts."""
    tenant_id = identity.tenant_id
    key = identity_key(policy, identity) or f"identity:{identity.pk}"
    own = Person.objects.select_for_update().filter(identity=identity).first()
    holders = Person.objects.select_for_update(nowait=not wait)
    holder = holders.filter(tenant_id=tenant_id, key=key).first()
    if holder is not None and holder.identity_id not in (None, identity.pk):
        key, holder = f"identity:{identity.pk}", None  # another identity has it: no merge
    if own is None and holder is not None:
        holder.identity = identity
        holder.save(update_fields=["identity"])
        return holder
    if own is None:
        return Person.objects.create(tenant_id=tenant_id, key=key, identity=identity)
    if holder is not None and holder.pk != own.pk:
        holder.accounts.update(person=own)
        holder.delete()
    if own.key != key:
        own.key = key
        own.save(update_fields=["key"])
    return own


def _set_aside(identity: Identity, person: Person) -> list[int]:
    """Move the person's accounts in directories the identity is not managed in, save those
    its links name, to the row of its key's accounts nobody manages; that row's pk, if any."""
    if identity.directories is None:
        return []
    connections = _connections(identity.tenant_id).values()
    managed_in = [c.pk for c in connections if manages(identity.directories, c)]
    linked = _linked_accounts(identity).values_list("pk", flat=True)
    outside = (
        Account.objects.filter(person=person)
        .exclude(connection_id__in=managed_in)
        .exclude(pk__in=list(linked))
    )
    if not outside.exists():
        return []
    row, _ = Person.objects.get_or_create(
        tenant_id=identity.tenant_id, key=outside_key(identity.pk)
    )
    outside.update(person=row)
    return [row.pk]


def _linked_accounts(identity: Identity):
    links = list(
        DirectoryAccount.objects.filter(identity=identity)
        .exclude(remote_id="")
        .values_list("connection_id", "remote_id")
    )
    if not links:
        return Account.objects.none()
    accounts = Account.objects.none()
    for connection_id, remote_id in links:
        accounts |= Account.objects.filter(connection_id=connection_id, remote_id=remote_id)
    return accounts.filter(tenant_id=identity.tenant_id)


def refresh_people(people: Iterable[Person]) -> None:
    """Recompute the summaries of some Person rows from their accounts and identity; rows
    left with neither are removed."""
    pks = [p.pk for p in people]
    for start in range(0, len(pks), BATCH):
        _refresh_batch(pks[start : start + BATCH])


def _refresh_batch(pks: list[int]) -> None:
    rows = list(
        Person.objects.filter(pk__in=pks).values_list("pk", "tenant_id", "identity_id", *SUMMARY)
    )
    if not rows:
        return
    identity_ids = [identity_id for _, _, identity_id, *_ in rows if identity_id]
    identities = {
        i.pk: i
        for i in (
            _Identity(*row)
            for row in Identity.objects.filter(pk__in=identity_ids).values_list(*_IDENTITY_FIELDS)
        )
    }
    accounts: dict[int, list[_Account]] = defaultdict(list)
    for account in _accounts(policy_for(rows[0][1]), person_id__in=pks):
        accounts[account.person_id].append(account)
    now, changed, empty = timezone.now(), [], []
    for pk, _, identity_id, *old in rows:
        identity, mine = identities.get(identity_id), accounts[pk]
        if identity is None and not any(not a.deleted for a in mine):
            empty.append(pk)
            continue
        summary = _summary(identity, mine)
        if summary != tuple(old):
            changed.append((pk, now, *summary))
    set_many(Person, ["updated_at", *SUMMARY], changed)
    if empty:
        Account.objects.filter(person_id__in=empty).update(person=None)
        Person.objects.filter(pk__in=empty).delete()


# --- hooks (connected in apps.py) ------------------------------------------------------------


def identity_saved(sender, instance: Identity, raw: bool = False, **kwargs) -> None:
    """Every managed person has a Person row from the moment their Identity exists."""
    fields = kwargs.get("update_fields")
    if raw or (fields is not None and not set(fields) & _SUMMARISED):
        return  # e.g. a reconciliation's timestamps: nothing the person's row shows
    if kwargs.get("created"):
        _person_for_new_identity(instance)
        return
    if fields is not None and set(fields) <= _STATUS_ONLY:
        summarise(instance)  # a job's end (joiner to active, leaver to left): the key stays
        return
    _person_for_identity_or_later(instance)


def summarise(identity: Identity) -> None:
    """Bring the summary of the identity's Person row up to date with the identity and the
    accounts attached to it: two statements, the row written only when it differs."""
    accounts = _accounts_of_identity(identity.pk)
    summary = dict(zip(SUMMARY, _summary(_as_read(identity), accounts), strict=True))
    # Its text kept per shape (portal/kept_sql.py): the texts and times are the statement's
    # values; None, the flags and the count (a small column, which no stand-in fits) its shape.
    varying = [n for n, v in summary.items() if isinstance(v, str | datetime)]
    fixed = tuple((n, v) for n, v in summary.items() if n not in varying)
    built = kept_sql.kept(
        ("inventory: a person's summary", fixed, tuple(varying)),
        _summary_written(dict(fixed), varying),
        identity.pk,
        timezone.now(),
        *(summary[n] for n in varying),
    )
    with connection.cursor() as cursor:
        cursor.execute(built.sql, built.params)


def _summary_written(fixed: dict, varying: list[str]):
    """The builder of `summarise`'s UPDATE: the Person row of an identity given the summary,
    only where it differs (as `filter().exclude(**summary).update(...)` writes it)."""

    def build(identity_id: int, now: datetime, *values) -> kept_sql.Built:
        given = {**fixed, **dict(zip(varying, values, strict=True))}
        summary = {n: given[n] for n in SUMMARY}
        differing = Person.objects.filter(identity_id=identity_id).exclude(**summary)
        sql, params = update_sql(differing, {"updated_at": now, **summary})
        return kept_sql.Built(sql, list(params))

    return build


def _person_for_new_identity(identity: Identity) -> None:
    """A new identity has no linked accounts and no row yet: its row is a new one under its
    key, summarised from the identity alone, made in one INSERT after the policy's read
    (or by the identity's own statement: `person_riding_with`).
    When a person already holds the key (one the inventory found, or another identity's),
    the general path settles whose it is: taken over with its accounts, or a key of its own."""
    tenant_id = identity.tenant_id
    # As the onboarding's INSERT of the identity read it (services._insert_joiner), if it did.
    stored = memo.tenant_row(
        "inventory_policy", tenant_id, lambda: Policy.objects.filter(tenant_id=tenant_id).first()
    )
    _rules_read[(connection.alias, tenant_id)] = _rule_of(stored)
    if memo.take((_WRITTEN_WITH_IDENTITY, identity.pk)):
        return
    policy = stored or Policy(tenant_id=tenant_id)
    key = identity_key(policy, identity) or f"identity:{identity.pk}"
    row = _new_person(identity, key)
    row.identity_id = identity.pk
    if not _insert_unless_taken(row):
        # Not waiting for the key's row: an adoption holding it (adoption._adopt) then
        # inserts an identity of this username, waiting for this transaction: a deadlock
        # that failed the onboarding or the adoption. Unwaited, the onboarding commits and
        # the adoption is refused as taken meanwhile; the next match settles the row.
        _person_for_identity_or_later(identity, wait=False)


# (database alias, tenant id) -> the tenant's rule as this process last read it for a new
# identity (`_rule_of`): the guess of the next joiner's key (`person_riding_with`).
_rules_read: dict[tuple, tuple | None] = {}
_WRITTEN_WITH_IDENTITY = "inventory: the new identity's person, written by its INSERT"


def _rule_of(policy: Policy | None) -> tuple | None:
    """What of the tenant's policy a new identity's key depends on (None: it has no row)."""
    return None if policy is None else (policy.pk, policy.match_on, policy.match_attribute)


def person_riding_with(identity: Identity, identity_id_sql: str) -> RidingRow | None:
    """The new identity's Person row, inserted by the statement that inserts the identity
    (`services.ride_with_new_identity`), under the key of the rule this process last read
    for the tenant. The statement writes it only where the tenant's policy is still that
    one, as the statement itself reads it, and nobody holds the key; where it did not, the
    hook on the identity's save does what it always did (`_person_for_new_identity`)."""
    tenant_id = identity.tenant_id
    alias = connection.alias
    if (alias, tenant_id) not in _rules_read:
        return None
    rule = _rules_read[(alias, tenant_id)]
    policy = Policy(tenant_id=tenant_id)
    if rule is not None:
        policy.pk, policy.match_on, policy.match_attribute = rule
    key = identity_key(policy, identity)
    if not key:
        return None  # "identity:<pk>": the hook's, once the id is known
    insert_sql, params = _insert_sql(_new_person(identity, key), identity_id_sql)
    guard_sql, guard_params = _rule_still(tenant_id, rule)
    return RidingRow(
        f"{insert_sql} WHERE {guard_sql} ON CONFLICT DO NOTHING RETURNING 1",
        [*params, *guard_params],
        lambda: memo.keep((_WRITTEN_WITH_IDENTITY, identity.pk), True),
    )


def _rule_still(tenant_id: int, rule: tuple | None) -> tuple[str, list]:
    """SQL that holds while the tenant's policy is `rule` (`_rule_of`), and its parameters."""
    quote = connection.ops.quote_name
    table, tenant = quote(Policy._meta.db_table), quote("tenant_id")
    if rule is None:
        return f"NOT EXISTS (SELECT FROM {table} WHERE {tenant} = %s)", [tenant_id]  # noqa: S608
    same = " AND ".join(f"{quote(c)} = %s" for c in ("id", "match_on", "match_attribute"))
    return f"EXISTS (SELECT FROM {table} WHERE {tenant} = %s AND {same})", [tenant_id, *rule]  # noqa: S608


def _new_person(identity: Identity, key: str) -> Person:
    row = _person(None, _summary(_as_read(identity), []), key=key)
    row.tenant_id = identity.tenant_id
    return row


def _insert_unless_taken(person: Person) -> bool:
    """INSERT the row unless its key (or identity) is taken; whether it was. No savepoint:
    the conflict is no error (a concurrent insert of the key is waited for, then seen)."""
    insert_sql, params = _insert_sql(person)
    with connection.cursor() as cursor:
        cursor.execute(f"{insert_sql} ON CONFLICT DO NOTHING", params)
        return cursor.rowcount == 1


def _insert_sql(person: Person, identity_id_sql: str | None = None) -> tuple[str, list]:
    """The row's INSERT (`pre_save` as Django's own), as `VALUES` or, with the SQL of the
    identity's id, as a `SELECT` that a `WHERE` may follow."""
    meta = Person._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    values, params = [], []
    for f in fields:
        if identity_id_sql is not None and f.attname == "identity_id":
            values.append(identity_id_sql)
            continue
        values.append("%s")
        params.append(f.get_db_prep_save(f.pre_save(person, add=True), connection))
    into = f"INSERT INTO {quote(meta.db_table)} ({columns})"
    if identity_id_sql is None:
        return f"{into} VALUES ({', '.join(values)})", params
    return f"{into} SELECT {', '.join(values)}", params


def _as_read(identity: Identity) -> _Identity:
    return _Identity(*(getattr(identity, name) for name in _IDENTITY_FIELDS))


def _person_for_identity_or_later(identity: Identity, *, wait: bool = True) -> None:
    # The hook runs inside the caller's transaction (an onboarding, a job): a person made at
    # the same moment by a match must not fail it. The next match (or save) settles it.
    try:
        person_for_identity(identity, wait=wait)
    except IntegrityError:
        logger.info(
            "person of identity %s: made concurrently; the next match settles it", identity.pk
        )
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        logger.info(
            "person of identity %s: its key's row is held; the next match settles it",
            identity.pk,
        )


def directory_account_saved(sender, instance: DirectoryAccount, raw: bool = False, **kwargs):
    """A link that gains a remote id takes the inventory's account to its identity's person."""
    fields = kwargs.get("update_fields")
    if raw or not instance.remote_id or (fields is not None and "remote_id" not in fields):
        return  # e.g. the access the portal gave, saved after each batch of steps
    link_owner_found(instance, list(link_owner(instance.connection_id, instance.remote_id)))


def link_owner(connection_id: int, remote_id: str):
    """The identity whose person holds the inventory's account of the link (none when the
    inventory has not seen the account yet; [None] when it holds it with no identity's)."""
    return Account.objects.filter(connection_id=connection_id, remote_id=remote_id).values_list(
        "person__identity_id", flat=True
    )[:1]


def link_owner_found(account: DirectoryAccount, owner: list) -> None:
    """An account the inventory read before the link gained its id (an inventory cycle
    between the directory's create and the engine's record of it) and gave another person
    (or none) goes to the link's identity's person. Also the engine's question when its
    outcomes write the id (`engine.accounts.on_linked`: asked in the same statement)."""
    if owner and owner[0] != account.identity_id:
        _person_for_identity_or_later(account.identity)
