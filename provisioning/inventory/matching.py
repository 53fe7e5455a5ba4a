"""Which accounts of a tenant's directories are one person, by the tenant's matching rule.

Every account gets a key from the rule (Policy.match_on): its username casefolded (Entra
UPN, Okta login), its mail, its employee id, or one of its attributes; accounts with the same
key are one Person. An account linked to a managed Identity by a DirectoryAccount
(connection, remote id) belongs to that identity's person whatever its key. An account
without a key is a person of its own ("account:<pk>"), as is a managed identity without one
("identity:<pk>").

Person rows carry the summary the People page lists and filters (name, username, mail,
enabled, licensed, last sign-in, in scope, live accounts), so that a page of 50,000 people
needs no join. rematch() rebuilds a tenant's rows in a few bulk statements; the two hooks
below keep a managed person's row current between inventory reads (an onboarding makes its
Identity before any account exists).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from provisioning.inventory.models import Account, Person, Policy
from provisioning.models import DirectoryAccount, Identity
from tenants.models import Tenant

BATCH = 500  # rows per bulk statement (Django splits further where SQLite caps parameters)
KEY_LENGTH = Person._meta.get_field("key").max_length
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


class _Account(NamedTuple):
    pk: int
    connection_id: int
    remote_id: str
    username: str
    mail: str
    employee_id: str
    display_name: str
    enabled: bool
    licence_ids: list
    last_sign_in: datetime | None
    deleted: bool
    in_scope: bool
    person_id: int | None
    attributes: dict


class _Identity(NamedTuple):
    pk: int
    username: str
    email: str
    employee_id: str
    display_name: str
    status: str
    attributes: dict


_ACCOUNT_FIELDS = list(_Account._fields)
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
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip().casefold()[:KEY_LENGTH]


def account_key(policy: Policy, account: _Account | Account) -> str:
    """The rule's value for an account, casefolded; "" when it has none."""
    match policy.match_on:
        case Policy.MatchOn.MAIL:
            return _fold(account.mail)
        case Policy.MatchOn.EMPLOYEE_ID:
            return _fold(account.employee_id)
        case Policy.MatchOn.ATTRIBUTE:
            return _fold((account.attributes or {}).get(policy.match_attribute))
        case _:
            return _fold(account.username)


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


# --- summaries -------------------------------------------------------------------------------


def _summary(identity: _Identity | None, accounts: list[_Account]) -> dict:
    """The Person columns for an identity (or none) and its accounts (deleted ones included)."""
    live = [a for a in accounts if not a.deleted]
    first = live[0] if live else (accounts[0] if accounts else None)
    if identity is not None:
        name, username = identity.display_name, identity.username
        mail, employee_id = identity.email, identity.employee_id
    else:
        name = next((a.display_name for a in live if a.display_name), "")
        username = first.username if first else ""
        mail = next((a.mail for a in live if a.mail), "")
        employee_id = next((a.employee_id for a in live if a.employee_id), "")
    name = name or username
    words: dict[str, None] = {}
    for who in ([identity] if identity else []) + live:
        for value in (who.display_name, who.username, _mail_of(who), who.employee_id):
            if value:
                words[value.casefold()] = None
    sign_ins = [a.last_sign_in for a in live if a.last_sign_in]
    return {
        "display_name": name[:256],
        "sort_name": name.casefold()[:256],
        "username": username[:320],
        "mail": mail[:320],
        "employee_id": employee_id[:64],
        "search": " ".join(words),
        "enabled": any(a.enabled for a in live)
        if live
        else bool(identity and identity.status in _SIGNING_IN),
        "licensed": any(a.licence_ids for a in live),
        "last_sign_in": max(sign_ins) if sign_ins else None,
        "in_scope": all(a.in_scope for a in live) if live else identity is not None,
        "accounts_count": min(len(live), 32767),
    }


def _mail_of(who: _Identity | _Account) -> str:
    return who.email if isinstance(who, _Identity) else who.mail


def _changed(person: Person, summary: dict) -> bool:
    return any(getattr(person, name) != value for name, value in summary.items())


# --- the whole tenant ------------------------------------------------------------------------


def rematch(tenant: Tenant) -> None:
    """Match every account of the tenant to its person by the tenant's rule and rebuild the
    Person rows' summaries: people created, re-keyed, merged or removed, accounts moved.
    Reads the tenant's accounts, identities and people once; writes only what changed."""
    policy = policy_for(tenant)
    identities = _identities(tenant)
    links = _links(tenant)
    accounts = [
        _Account(*row)
        for row in Account.objects.filter(tenant=tenant)
        .order_by("pk")
        .values_list(*_ACCOUNT_FIELDS)
        .iterator(chunk_size=2000)
    ]
    wanted = _wanted(policy, identities, links, accounts)
    with transaction.atomic():
        people = _store(tenant, wanted)
        _attach(accounts, wanted, people)


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
        linked = links.get((account.connection_id, account.remote_id))
        key = key_of_identity.get(linked) if linked else None
        key = key or account_key(policy, account) or f"account:{account.pk}"
        if account.deleted and key not in wanted:
            gone.append((key, account))
            continue
        wanted.setdefault(key, _Wanted(key)).accounts.append(account)
    # A deleted account stays with a person who is still there; alone, it is nobody.
    for key, account in gone:
        if key in wanted:
            wanted[key].accounts.append(account)
    return {key: person for key, person in wanted.items() if person.identity or person.live}


def _store(tenant: Tenant, wanted: dict[str, _Wanted]) -> dict[str, Person]:
    """Bring the tenant's Person rows to what is wanted; key -> its row."""
    existing = list(Person.objects.filter(tenant=tenant).only("key", "identity_id", *SUMMARY))
    by_identity = {p.identity_id: p for p in existing if p.identity_id}
    by_key = {p.key: p for p in existing}
    rows: dict[str, Person] = {}
    claimed: set[int] = set()
    # A managed person keeps their row (and its history) whatever their key becomes.
    for key, want in wanted.items():
        if want.identity and want.identity.pk in by_identity:
            rows[key] = by_identity[want.identity.pk]
            claimed.add(rows[key].pk)
    for key in wanted.keys() - rows.keys():
        row = by_key.get(key)
        if row is not None and row.pk not in claimed and row.identity_id is None:
            rows[key] = row
            claimed.add(row.pk)
    stale = [p.pk for p in existing if p.pk not in claimed]
    for start in range(0, len(stale), BATCH):
        Person.objects.filter(pk__in=stale[start : start + BATCH]).delete()
    now = timezone.now()
    new, changed, rekeyed = [], [], []
    for key, want in wanted.items():
        summary = _summary(want.identity, want.accounts)
        identity_id = want.identity.pk if want.identity else None
        row = rows.get(key)
        if row is None:
            rows[key] = Person(
                tenant=tenant, key=key, identity_id=identity_id, updated_at=now, **summary
            )
            new.append(rows[key])
            continue
        if row.key != key:
            rekeyed.append((row, key))
        if row.key != key or row.identity_id != identity_id or _changed(row, summary):
            for name, value in summary.items():
                setattr(row, name, value)
            row.identity_id, row.updated_at = identity_id, now
            changed.append(row)
    _rekey(rekeyed)
    Person.objects.bulk_update(
        changed, ["key", "identity", "updated_at", *SUMMARY], batch_size=BATCH
    )
    Person.objects.bulk_create(new, batch_size=BATCH)
    return rows


def _rekey(rekeyed: list[tuple[Person, str]]) -> None:
    """Give re-keyed rows a placeholder key first, so that two rows swapping keys never hold
    the same one in between (unique per tenant, checked row by row)."""
    for row, _ in rekeyed:
        row.key = f"rekey:{row.pk}"
    Person.objects.bulk_update([row for row, _ in rekeyed], ["key"], batch_size=BATCH)
    for row, key in rekeyed:
        row.key = key


def _attach(accounts: list[_Account], wanted: dict[str, _Wanted], people: dict[str, Person]):
    """Point every account at its person's row (None for a deleted account left alone)."""
    person_of = {a.pk: people[key].pk for key, want in wanted.items() for a in want.accounts}
    moved = [
        Account(pk=a.pk, person_id=person_of.get(a.pk))
        for a in accounts
        if a.person_id != person_of.get(a.pk)
    ]
    Account.objects.bulk_update(moved, ["person"], batch_size=BATCH)


# --- one person at a time --------------------------------------------------------------------


def person_for_identity(identity: Identity) -> Person:
    """The identity's Person row, created or re-keyed by the tenant's rule, with the accounts
    its DirectoryAccount links name (and those its key matches) attached."""
    policy = policy_for(identity.tenant_id)
    with transaction.atomic():
        person = _claim_row(policy, identity)
        touched = {person.pk}
        linked = _linked_accounts(identity)
        touched.update(p for p in linked.values_list("person_id", flat=True) if p)
        linked.exclude(person=person).update(person=person)
        refresh_people(Person.objects.filter(pk__in=touched))
    person.refresh_from_db()
    return person


def _claim_row(policy: Policy, identity: Identity) -> Person:
    """The identity's row under its current key: its own, or the unmanaged person holding
    the key (who becomes this identity's), or a new one. Rows it replaces hand over their
    accounts."""
    tenant_id = identity.tenant_id
    key = identity_key(policy, identity) or f"identity:{identity.pk}"
    own = Person.objects.select_for_update().filter(identity=identity).first()
    holder = Person.objects.select_for_update().filter(tenant_id=tenant_id, key=key).first()
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
    rows = list(Person.objects.filter(pk__in=pks))
    identity_ids = [p.identity_id for p in rows if p.identity_id]
    identities = {
        i.pk: i
        for i in (
            _Identity(*row)
            for row in Identity.objects.filter(pk__in=identity_ids).values_list(*_IDENTITY_FIELDS)
        )
    }
    accounts: dict[int, list[_Account]] = defaultdict(list)
    for row in (
        Account.objects.filter(person_id__in=pks).order_by("pk").values_list(*_ACCOUNT_FIELDS)
    ):
        account = _Account(*row)
        accounts[account.person_id].append(account)
    now, changed, empty = timezone.now(), [], []
    for row in rows:
        identity, mine = identities.get(row.identity_id), accounts[row.pk]
        if identity is None and not any(not a.deleted for a in mine):
            empty.append(row.pk)
            continue
        summary = _summary(identity, mine)
        if _changed(row, summary):
            for name, value in summary.items():
                setattr(row, name, value)
            row.updated_at = now
            changed.append(row)
    Person.objects.bulk_update(changed, ["updated_at", *SUMMARY], batch_size=BATCH)
    if empty:
        Account.objects.filter(person_id__in=empty).update(person=None)
        Person.objects.filter(pk__in=empty).delete()


# --- hooks (connected in apps.py) ------------------------------------------------------------


def identity_saved(sender, instance: Identity, raw: bool = False, **kwargs) -> None:
    """Every managed person has a Person row from the moment their Identity exists."""
    fields = kwargs.get("update_fields")
    if raw or (fields is not None and not set(fields) & _SUMMARISED):
        return  # e.g. a reconciliation's timestamps: nothing the person's row shows
    person_for_identity(instance)


def directory_account_saved(sender, instance: DirectoryAccount, raw: bool = False, **kwargs):
    """A link that gains a remote id takes the inventory's account to its identity's person."""
    if raw or not instance.remote_id:
        return
    owners = Account.objects.filter(
        connection_id=instance.connection_id, remote_id=instance.remote_id
    ).values_list("person__identity_id", flat=True)
    owner = list(owners[:1])  # [] when the inventory has not seen the account yet
    if owner and owner[0] != instance.identity_id:
        person_for_identity(instance.identity)
