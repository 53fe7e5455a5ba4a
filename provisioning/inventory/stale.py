"""Stale accounts and licence waste, from the inventory's rows.

An account is stale when it is enabled, holds a seat and nobody signed in to it for N days
(the tenant's Policy.stale_after_days, 90 by default): its last sign-in is older than N days,
or it has none and the inventory first saw it more than N days ago ("never"). An account
holds a seat when it has a licence SKU, or when its directory sells no SKUs and bills every
user (Okta). Last sign-ins are Entra's signInActivity and Okta's lastLogin, read with full
inventory reads. A directory whose sign-ins the inventory could not read (Graph's 403
without a premium licence or AuditLog.Read.All, or no full read yet) is left out of the list
with the reason, rather than reporting every account of it as never signed in.

Licence waste, per SKU of each directory: seats bought and consumed as the last read of the
catalogue saw them, seats nobody holds, seats held by blocked accounts and seats held by
stale accounts: the seats that could be freed.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from portal.csv_cells import neutralise
from portal.csv_cells import writer as csv_writer
from provisioning.connectors.factory import connector_type
from provisioning.inventory.models import Account, Cursor, Policy, Resource
from tenants.models import DirectoryConnection, Tenant

DEFAULT_DAYS = Policy._meta.get_field("stale_after_days").default
MIN_DAYS, MAX_DAYS = 1, 3650
NOT_READ_YET = "The inventory has not read this directory in full yet, so its sign-ins are unknown."


def stale_after_days(tenant: Tenant) -> int:
    """The tenant's N, without writing a policy row on a read."""
    days = Policy.objects.filter(tenant=tenant).values_list("stale_after_days", flat=True).first()
    return min(max(days or DEFAULT_DAYS, MIN_DAYS), MAX_DAYS)


@dataclass(frozen=True)
class Directory:
    """One connection of the tenant as the stale report sees it."""

    connection: DirectoryConnection
    sign_ins_note: str  # "" when its last sign-ins are known
    bills_every_user: bool  # no licence SKUs: every enabled account is a paid seat
    read_at: datetime | None  # the last full read, which read sign-ins and seats

    @property
    def label(self) -> str:
        return self.connection.label

    @property
    def sign_ins_known(self) -> bool:
        return not self.sign_ins_note


def directories_of(tenant: Tenant) -> list[Directory]:
    connections = DirectoryConnection.objects.filter(tenant=tenant).select_related(
        "inventory_cursor"
    )
    found = []
    for connection in connections.order_by("kind"):
        cursor: Cursor | None = getattr(connection, "inventory_cursor", None)
        read_at = cursor.full_read_at if cursor else None
        note = _sentence(cursor.sign_ins_note) if cursor and read_at else NOT_READ_YET
        bills = not connector_type(connection).supports_licences
        found.append(Directory(connection, note, bills, read_at))
    return found


def _sentence(text: str) -> str:
    """Graph's messages end without a full stop; the page puts a sentence after them."""
    text = text.strip()
    return text if not text or text.endswith((".", "!", "?")) else text + "."


def _cutoff(days: int, now: datetime | None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


def _unused_since(cutoff: datetime) -> Q:
    return Q(last_sign_in__lt=cutoff) | Q(last_sign_in__isnull=True, first_seen__lt=cutoff)


def _holds_a_seat(directories: list[Directory]) -> Q:
    billing_every_user = [d.connection.pk for d in directories if d.bills_every_user]
    return ~Q(licence_ids=[]) | Q(connection_id__in=billing_every_user)


def stale_accounts(
    tenant: Tenant,
    days: int,
    *,
    directories: list[Directory] | None = None,
    connection_id: int | None = None,
    managed: bool | None = None,
    now: datetime | None = None,
) -> QuerySet[Account]:
    """The tenant's stale accounts, never signed in first, then the longest unused."""
    directories = directories_of(tenant) if directories is None else directories
    readable = [d.connection.pk for d in directories if d.sign_ins_known]
    accounts = Account.objects.filter(
        tenant=tenant, connection_id__in=readable, enabled=True, deleted=False
    ).filter(_unused_since(_cutoff(days, now)), _holds_a_seat(directories))
    if connection_id is not None:
        accounts = accounts.filter(connection_id=connection_id)
    if managed is True:
        accounts = accounts.filter(person__identity__isnull=False)
    elif managed is False:
        accounts = accounts.filter(Q(person__isnull=True) | Q(person__identity__isnull=True))
    return accounts.select_related("person", "connection").order_by(
        F("last_sign_in").asc(nulls_first=True), "username", "pk"
    )


def licence_names(tenant: Tenant) -> dict[tuple[int, str], str]:
    """(connection id, SKU id) -> the SKU's name, from the catalogue of the tenant's reads."""
    rows = Resource.objects.filter(connection__tenant=tenant, kind="licenses")
    return {
        (c, remote_id): name
        for c, remote_id, name in rows.values_list("connection_id", "remote_id", "name")
    }


@dataclass(frozen=True)
class StaleRow:
    """One stale account as the page and the CSV show it."""

    account: Account
    directory: str
    licences: list[str]
    days_unused: int  # since the last sign-in, or since first seen when never signed in

    @property
    def never(self) -> bool:
        return self.account.last_sign_in is None

    @property
    def person(self):
        return self.account.person

    @property
    def managed(self) -> bool:
        return self.account.person is not None and self.account.person.identity_id is not None

    @property
    def name(self) -> str:
        return self.account.display_name or self.account.username or self.account.remote_id


def rows_of(
    accounts: Iterable[Account], names: dict[tuple[int, str], str], now: datetime | None = None
) -> Iterator[StaleRow]:
    """The accounts as rows, their SKU ids named (an id the catalogue lacks stays an id)."""
    now = now or timezone.now()
    for account in accounts:
        since = account.last_sign_in or account.first_seen
        yield StaleRow(
            account,
            account.connection.label,
            [names.get((account.connection_id, sku), sku) for sku in account.licence_ids],
            max((now - since).days, 0),
        )


# -- CSV ----------------------------------------------------------------------------------

CSV_HEADER = (
    "Name",
    "Username",
    "Mail",
    "Directory",
    "Last sign-in",
    "Days without a sign-in",
    "First seen",
    "Licences",
    "Managed",
    "In scope",
    "Why out of scope",
    "Directory id",
)
TIMES = ("Last sign-in", "First seen")  # written in the tenant's zone
BOM = "\ufeff"  # Excel reads UTF-8 names with accents right only with it
CHUNK = 500


def csv_header(zone_name: str) -> list[str]:
    """The columns, the times' naming their zone: a time without one is a local time that
    only its writer can place (RFC 3339 §4.4), and the tenant's zone is no reader's given."""
    return [f"{name} ({zone_name})" if name in TIMES else name for name in CSV_HEADER]


def csv_stream(
    accounts: QuerySet[Account], names: dict[tuple[int, str], str], tenant: Tenant
) -> Iterator[str]:
    """The accounts as CSV lines, a chunk at a time."""
    zone = ZoneInfo(tenant.time_zone)
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(csv_header(tenant.time_zone))
    yield BOM + _drain(buffer)
    now = timezone.now()
    for n, row in enumerate(rows_of(accounts.iterator(chunk_size=CHUNK), names, now), 1):
        writer.writerow([neutralise(cell) for cell in _csv_cells(row, zone)])
        if n % CHUNK == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def _csv_cells(row: StaleRow, zone: ZoneInfo) -> Iterable[object]:
    a = row.account
    return (
        a.display_name,
        a.username,
        a.mail,
        row.directory,
        "never" if row.never else _when(a.last_sign_in, zone),
        row.days_unused,
        _when(a.first_seen, zone),
        "; ".join(row.licences),
        "yes" if row.managed else "no",
        "yes" if a.in_scope else "no",
        a.scope_reason,
        a.remote_id,
    )


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


# -- licence waste ------------------------------------------------------------------------


@dataclass
class SkuWaste:
    connection_id: int
    directory: str
    sku_id: str
    name: str
    total: int
    consumed: int
    on_disabled: int = 0
    on_stale: int | None = 0  # None: the directory's sign-ins are unknown

    @property
    def unused(self) -> int:
        return max(self.total - self.consumed, 0)

    @property
    def freeable(self) -> int:
        return self.unused + self.on_disabled + (self.on_stale or 0)


@dataclass
class LicenceWaste:
    days: int
    skus: list[SkuWaste] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a figure is missing
    read_at: datetime | None = None  # the oldest reading the seat counts come from

    @property
    def unused(self) -> int:
        return sum(s.unused for s in self.skus)

    @property
    def on_disabled(self) -> int:
        return sum(s.on_disabled for s in self.skus)

    @property
    def on_stale(self) -> int:
        return sum(s.on_stale or 0 for s in self.skus)

    @property
    def stale_known(self) -> bool:
        """Whether every directory's seats on stale accounts could be counted."""
        return all(s.on_stale is not None for s in self.skus)

    @property
    def freeable(self) -> int:
        return sum(s.freeable for s in self.skus)


def licence_waste(tenant: Tenant, days: int | None = None, now: datetime | None = None):
    """Seats per SKU of the tenant's directories that nobody uses: in three queries."""
    days = stale_after_days(tenant) if days is None else days
    directories = [d for d in directories_of(tenant) if not d.bills_every_user]
    waste = LicenceWaste(days)
    if not directories:
        return waste
    on_disabled, on_stale = _seats_held_idle(tenant, directories, days, now)
    by_pk = {d.connection.pk: d for d in directories}
    skus = Resource.objects.filter(connection_id__in=list(by_pk), kind="licenses")
    for sku in skus.order_by("connection_id", "name", "remote_id"):
        directory = by_pk[sku.connection_id]
        key = (sku.connection_id, sku.remote_id)
        waste.skus.append(
            SkuWaste(
                sku.connection_id,
                directory.label,
                sku.remote_id,
                sku.name or sku.remote_id,
                int(sku.detail.get("total") or 0),
                int(sku.detail.get("consumed") or 0),
                on_disabled[key],
                on_stale[key] if directory.sign_ins_known else None,
            )
        )
    for d in directories:
        if d.read_at is None:
            waste.notes.append(f"{d.label}: {NOT_READ_YET}")
        elif not d.sign_ins_known:
            waste.notes.append(f"{d.label}: seats on stale accounts unknown. {d.sign_ins_note}")
    read = [d.read_at for d in directories if d.read_at]
    waste.read_at = min(read) if read else None
    return waste


def _seats_held_idle(tenant, directories, days, now) -> tuple[Counter, Counter]:
    """(connection id, SKU id) -> seats held by blocked accounts, and by stale ones."""
    readable = [d.connection.pk for d in directories if d.sign_ins_known]
    stale = Q(enabled=True, connection_id__in=readable) & _unused_since(_cutoff(days, now))
    idle = (
        Account.objects.filter(
            tenant=tenant, deleted=False, connection_id__in=[d.connection.pk for d in directories]
        )
        .exclude(licence_ids=[])
        .filter(Q(enabled=False) | stale)
        .values_list("connection_id", "licence_ids", "enabled")
    )
    on_disabled, on_stale = Counter(), Counter()
    for connection_id, skus, enabled in idle.iterator(chunk_size=2000):
        counter = on_stale if enabled else on_disabled
        counter.update((connection_id, sku) for sku in skus)
    return on_disabled, on_stale
