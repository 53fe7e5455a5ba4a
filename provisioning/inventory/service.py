"""Reading a connection's directory into the inventory: a full read when it has no cursor,
else what changed since the last read (Graph delta links, Okta's lastUpdated).

One read at a time per connection (claimed by a conditional UPDATE on its cursor row). Every
page is paced through the connection's token bucket, and the cursor row counts the calls and
accounts as they come, so a page can show the progress. The catalogue of groups, licences
and apps (catalog.py) is kept with the reads; app assignments, which no directory offers as
a delta, are read with full reads and every INVENTORY_APPS_SECONDS. Rows are written a page
at a time with bulk_create / bulk_update; memberships and app assignments are applied once
their read is complete, so a read that fails half-way leaves the rows as they were and the
cursor where it was (the next read replays from there, which delta reads allow).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from provisioning import quarantine, throttle
from provisioning.connectors import bridge
from provisioning.connectors.base import (
    AccessState,
    AccountChanges,
    DeltaExpiredError,
    DirectoryUser,
    MembershipChanges,
    ObservedAccount,
)
from provisioning.connectors.errors import (
    ConnectorError,
    PermissionDeniedError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
)
from provisioning.connectors.factory import connector_for
from provisioning.inventory import catalog, cycle
from provisioning.inventory.models import Account, Cursor, Resource
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection

logger = logging.getLogger(__name__)

T = TypeVar("T")
BATCH = 500  # rows per bulk statement
ATTEMPTS = 5  # tries of one page through transient failures and 429s
# A read still marked running after this long died with its worker: it may be claimed again.
STALE_RUN = timedelta(hours=1)
FIELDS = [
    "username",
    "mail",
    "employee_id",
    "display_name",
    "first_name",
    "last_name",
    "enabled",
    "user_type",
    "department",
    "attributes",
]
Sleep = Callable[[float], None]


def refresh(connection: DirectoryConnection, *, sleep: Sleep = time.sleep) -> Cursor | None:
    """Read the connection's directory into its inventory rows: in full without a cursor,
    else incrementally; a refused delta link (expired, reset) starts a full read. None when
    another read of this connection is running. A directory's failure is recorded on the
    cursor row (state failed, last error), not raised; one it did not get over counts
    towards the connection's quarantine, as the engine's do. A read that got to its end is
    followed by the tenant's scope, matching and drift (`cycle.after_read`)."""
    cursor = _claim(connection)
    if cursor is None:
        return None
    try:
        reader = _Reader(connection, cursor, sleep)
        try:
            reader.read()
        except DeltaExpiredError as exc:
            logger.info("inventory of %s: %s; reading everything again", connection.pk, exc)
            cursor.users_cursor = cursor.groups_cursor = ""
            reader.read()
    except (TransientError, TimeoutError) as exc:
        message = _message(exc)
        if not isinstance(exc, ThrottledError | ReplicationLagError):
            # Given up after its retries: the directory is unwell, as a job's give-up says.
            quarantine.record_outcome(connection, ok=False, reason=message)
        _finish(cursor, Cursor.State.FAILED, message)
    except (ConnectorError, CredentialError) as exc:
        _finish(cursor, Cursor.State.FAILED, _message(exc))
    else:
        _finish(cursor, Cursor.State.IDLE, "")
        quarantine.record_outcome(connection, ok=True)
    finally:
        if cursor.state == Cursor.State.RUNNING:
            # Anything else (a bug, the database) propagates; the row says the read stopped
            # rather than staying "running" for an hour.
            _finish(cursor, Cursor.State.FAILED, "The read stopped unexpectedly.")
    if cursor.state == Cursor.State.IDLE:
        cycle.after_read(connection)
    return cursor


def _message(exc: BaseException) -> str:
    return (getattr(exc, "message", "") or str(exc) or type(exc).__name__)[:2000]


def due_connections(now=None) -> list[DirectoryConnection]:
    """Connections whose last read finished INVENTORY_INTERVAL_SECONDS ago or more, or never
    read, and not running now."""
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.INVENTORY_INTERVAL_SECONDS)
    return list(
        DirectoryConnection.objects.filter(quarantined_at__isnull=True)
        .filter(
            Q(inventory_cursor__isnull=True)
            | Q(inventory_cursor__finished_at__isnull=True, inventory_cursor__state="idle")
            | Q(inventory_cursor__finished_at__lte=since) & ~Q(inventory_cursor__state="running")
            | Q(inventory_cursor__state="running", inventory_cursor__started_at__lt=now - STALE_RUN)
        )
        .order_by("pk")
    )


# -- the claim and the progress ------------------------------------------------------------


def running(connection: DirectoryConnection) -> bool:
    return Cursor.objects.filter(
        connection=connection,
        state=Cursor.State.RUNNING,
        started_at__gte=timezone.now() - STALE_RUN,
    ).exists()


def _claim(connection: DirectoryConnection) -> Cursor | None:
    now = timezone.now()
    Cursor.objects.get_or_create(connection=connection)
    claimed = (
        Cursor.objects.filter(connection=connection)
        .exclude(state=Cursor.State.RUNNING, started_at__gte=now - STALE_RUN)
        .update(
            state=Cursor.State.RUNNING,
            started_at=now,
            finished_at=None,
            accounts_read=0,
            groups_read=0,
            pages_read=0,
            last_error="",
        )
    )
    return Cursor.objects.get(connection=connection) if claimed else None


def _progress(cursor: Cursor, accounts: int = 0, groups: int = 0) -> None:
    """The counts so far, for a page to show. `pages_read` counts every directory call the
    read has made (pages of accounts, memberships, app users and sign-ins, and catalogue
    lists): the read's cost."""
    Cursor.objects.filter(pk=cursor.pk).update(
        accounts_read=F("accounts_read") + accounts,
        groups_read=F("groups_read") + groups,
        pages_read=cursor.pages_read,
    )


def _finish(cursor: Cursor, state: str, error: str) -> None:
    cursor.state, cursor.last_error, cursor.finished_at = state, error, timezone.now()
    fields = ["state", "last_error", "finished_at", "pages_read"]
    if state == Cursor.State.IDLE:
        fields += ["users_cursor", "groups_cursor", "full", "full_read_at", "sign_ins_note"]
    cursor.save(update_fields=fields)
    cursor.refresh_from_db()


# -- the read ------------------------------------------------------------------------------


class _Reader:
    def __init__(self, connection: DirectoryConnection, cursor: Cursor, sleep: Sleep):
        self.connection = connection
        self.cursor = cursor
        self.sleep = sleep
        self.connector = connector_for(connection)
        self.licences_seen: set[str] = set()

    def read(self) -> None:
        full = not self.cursor.users_cursor or self._full_read_due()
        started = timezone.now()
        Cursor.objects.filter(pk=self.cursor.pk).update(full=full)
        self.cursor.full = full
        self.licences_seen = set()
        if full:
            self._catalogue(self._catalogued_kinds())
        # Memberships are read before the users and applied after them, so that a user made
        # between the two reads has its row when its memberships are written (the groups'
        # delta will not report them again).
        memberships = None
        if hasattr(self.connector, "group_changes"):
            memberships = self._groups("" if full else self.cursor.groups_cursor)
        users_cursor = self._users("" if full else self.cursor.users_cursor)
        if memberships is not None:
            memberships.apply(self.connection)
            memberships.catalogue(self.connection)
        if not full:
            self._catalogue(self._kinds_lacking(memberships))
        if hasattr(self.connector, "app_users"):
            self._apps(full)
        if full:
            # What a full read did not show is gone (Graph's full delta shows the deleted too).
            _rows(self.connection).filter(deleted=False, last_seen__lt=started).update(
                deleted=True, updated_at=timezone.now()
            )
            if hasattr(self.connector, "sign_ins"):
                self._sign_ins()
            self.cursor.full_read_at = started
        # Only a read that got this far moves the cursors on.
        self.cursor.users_cursor = users_cursor
        if memberships is not None:
            self.cursor.groups_cursor = memberships.cursor

    def _full_read_due(self) -> bool:
        """A full read now and then sees what incremental reads cannot: Okta's deleted users
        and new sign-ins (lastLogin does not move lastUpdated), Entra's signInActivity (not
        in delta)."""
        last = self.cursor.full_read_at
        interval = timedelta(seconds=settings.INVENTORY_FULL_READ_SECONDS)
        return last is None or timezone.now() - last >= interval

    def _users(self, link: str) -> str:
        while True:
            page: AccountChanges = self._page(lambda link=link: self.connector.users_changes(link))
            _upsert(self.connection, page.accounts)
            _removed(self.connection, page.removed)
            for seen in page.accounts:
                self.licences_seen.update(seen.licences or ())
            _progress(self.cursor, accounts=len(page.accounts) + len(page.removed))
            link = page.cursor
            if not page.more:
                return link

    def _groups(self, link: str) -> _Memberships:
        found = _Memberships(full=not link)
        while True:
            page: MembershipChanges = self._page(
                lambda link=link: self.connector.group_changes(link)
            )
            found.add(page)
            _progress(self.cursor, groups=len(page.added) + len(page.deleted_groups))
            link = page.cursor
            if not page.more:
                found.cursor = link
                return found

    # -- the catalogue: groups, licences and apps by id and name --------------------------

    def _catalogued_kinds(self) -> list[str]:
        return [
            kind
            for kind in catalog.KINDS
            if kind != "licenses" or getattr(self.connector, "supports_licences", False)
        ]

    def _catalogue(self, kinds: list[str]) -> None:
        """List each kind through the connector (one call, or a few pages of groups)."""
        for kind in kinds:
            listed = self._page(lambda kind=kind: getattr(self.connector, kind)(fresh=True))
            catalog.store(self.connection, kind, listed)
            _progress(self.cursor)

    def _kinds_lacking(self, memberships: _Memberships | None) -> list[str]:
        """The kinds an incremental read must list again: an id it met is not catalogued
        (a group made, a SKU bought since), or the catalogue is empty."""
        met = {
            "groups": memberships.groups_met() if memberships is not None else set(),
            "licenses": self.licences_seen,
            "apps": set(),
        }
        return [
            kind
            for kind in self._catalogued_kinds()
            if catalog.empty(self.connection, kind)
            or catalog.lacking(self.connection, kind, met[kind])
        ]

    # -- app assignments and sign-ins -----------------------------------------------------

    def _apps(self, full: bool) -> None:
        """The users of each catalogued app, one call per app and page: with every full read,
        and in an incremental one only for the apps whose assignments were last read
        INVENTORY_APPS_SECONDS ago or more (no directory offers a delta of them, and reading
        them whole each cycle would cost more calls than every other change together)."""
        apps = _apps_due(self.connection, full)
        if not apps:
            return
        started = timezone.now()
        holders: dict[str, set[str]] = defaultdict(set)  # user id -> apps
        for app_id in apps:
            link = ""
            while True:
                page = self._page(
                    lambda app_id=app_id, link=link: self.connector.app_users(app_id, link)
                )
                for user_id in page.ids:
                    holders[user_id].add(app_id)
                _progress(self.cursor)
                link = page.cursor
                if not page.more:
                    break
        read = set(apps)

        def apps_of(row: Account) -> set[str]:
            held = holders.get(row.remote_id, set())
            # A full read read every app there is: an app it did not list is gone.
            return set(held) if full else set(row.app_ids) - read | held

        _set_lists(self.connection, "app_ids", apps_of)
        catalog.note(self.connection, "apps", apps, assignments_read_at=started.isoformat())

    def _sign_ins(self) -> None:
        """Last sign-ins, where the directory keeps them apart from the user (Entra's
        signInActivity); a tenant without the licence or permission is noted, not failed."""
        link = ""
        try:
            while True:
                page = self._page(lambda link=link: self.connector.sign_ins(link))
                _set_sign_ins(self.connection, page.last_sign_in)
                _progress(self.cursor)
                link = page.cursor
                if not page.more:
                    break
        except PermissionDeniedError as exc:
            self.cursor.sign_ins_note = exc.message[:500]
        else:
            self.cursor.sign_ins_note = ""

    def _page(self, call: Callable[[], Awaitable[T]]) -> T:
        """One directory call, paced through the connection's bucket; retried (a few times)
        after a 429 or a transient failure, waiting what the directory asked."""
        for attempt in range(1, ATTEMPTS + 1):
            while (wait := throttle.acquire(self.connection)) > 0:
                self.sleep(wait)
            try:
                answer = bridge.run(call())
            except ThrottledError as exc:
                throttle.pause(self.connection, exc.retry_after or 1.0)
                if attempt == ATTEMPTS:
                    raise
            except (TransientError, TimeoutError) as exc:
                if attempt == ATTEMPTS:
                    raise
                self.sleep(getattr(exc, "retry_after", None) or min(30.0, 2.0**attempt))
            else:
                self.cursor.pages_read += 1
                return answer
        raise AssertionError("unreachable")


def _apps_due(connection: DirectoryConnection, full: bool) -> list[str]:
    """The catalogued apps whose assignments to read now: all of them in a full read."""
    apps = Resource.objects.filter(connection=connection, kind="apps").order_by("remote_id")
    if full:
        return [app.remote_id for app in apps]
    since = timezone.now() - timedelta(seconds=settings.INVENTORY_APPS_SECONDS)
    return [app.remote_id for app in apps if _read_before(app.detail, since)]


def _read_before(detail: dict, moment) -> bool:
    read_at = parse_datetime(detail.get("assignments_read_at") or "")
    return read_at is None or read_at <= moment


class _Memberships:
    """Group memberships a read found, per user, until they are written."""

    def __init__(self, full: bool) -> None:
        self.full = full
        self.added: dict[str, set[str]] = defaultdict(set)  # user id -> groups
        self.removed: dict[str, set[str]] = defaultdict(set)
        self.deleted: set[str] = set()
        self.complete: set[str] = set()  # groups whose members were all listed
        self.groups: set[str] = set()  # every group the read showed
        self.names: dict[str, str] = {}  # group id -> displayName, where the read tells
        self.cursor = ""

    def add(self, page: MembershipChanges) -> None:
        for group_id, members in page.added.items():
            for user_id in members:
                self.added[user_id].add(group_id)
        for group_id, members in page.removed.items():
            for user_id in members:
                self.removed[user_id].add(group_id)
        self.groups.update(page.added, page.removed)
        self.deleted.update(page.deleted_groups)
        self.complete.update(page.complete)
        self.names.update(getattr(page, "names", None) or {})

    def groups_met(self) -> set[str]:
        return self.groups - self.deleted

    def apply(self, connection: DirectoryConnection) -> None:
        if self.full:
            _set_lists(connection, "group_ids", lambda row: self.added.get(row.remote_id, set()))
            return
        dropped = self.deleted | self.complete
        touched = None if dropped else set(self.added) | set(self.removed)

        def groups_of(row: Account) -> set[str]:
            held = set(row.group_ids) - dropped | self.added.get(row.remote_id, set())
            return held - self.removed.get(row.remote_id, set())

        _set_lists(connection, "group_ids", groups_of, only=touched)

    def catalogue(self, connection: DirectoryConnection) -> None:
        """Group names the read showed, and the groups it says are deleted."""
        catalog.rename(connection, "groups", self.names)
        catalog.forget(connection, "groups", self.deleted)


# -- rows ----------------------------------------------------------------------------------


def _rows(connection: DirectoryConnection):
    return Account.objects.filter(connection=connection)


def _upsert(connection: DirectoryConnection, accounts: list[ObservedAccount]) -> None:
    """Insert the new accounts and update the known ones: a query to read, then one
    statement per BATCH rows."""
    if not accounts:
        return
    now = timezone.now()
    known = {
        row.remote_id: row
        for row in _rows(connection).filter(remote_id__in=[a.id for a in accounts])
    }
    new, changed = [], []
    for seen in accounts:
        row = known.get(seen.id)
        if row is None:
            row = Account(
                connection=connection,
                tenant_id=connection.tenant_id,
                remote_id=seen.id,
                first_seen=now,
            )
            new.append(row)
        else:
            changed.append(row)
        for name in FIELDS:
            setattr(row, name, getattr(seen, name))
        if seen.licences is not None:
            row.licence_ids = sorted(seen.licences)
        if seen.last_sign_in:
            row.last_sign_in = seen.last_sign_in
        row.deleted, row.last_seen, row.updated_at = False, now, now
    with transaction.atomic():
        Account.objects.bulk_create(new, batch_size=BATCH)
        Account.objects.bulk_update(
            changed,
            [*FIELDS, "licence_ids", "last_sign_in", "deleted", "last_seen", "updated_at"],
            batch_size=BATCH,
        )


def _set_sign_ins(connection: DirectoryConnection, last: dict[str, str | None]) -> None:
    rows = list(_rows(connection).filter(remote_id__in=list(last)).only("pk", "remote_id"))
    for row in rows:
        row.last_sign_in = last[row.remote_id]
    with transaction.atomic():
        Account.objects.bulk_update(rows, ["last_sign_in"], batch_size=BATCH)


def _removed(connection: DirectoryConnection, ids: list[str]) -> None:
    if ids:
        now = timezone.now()
        _rows(connection).filter(remote_id__in=ids).update(
            deleted=True, last_seen=now, updated_at=now
        )


def _set_lists(
    connection: DirectoryConnection,
    field: str,
    value: Callable[[Account], Iterable[str]],
    only: set[str] | None = None,
) -> None:
    """Set `field` (a list of ids) of the connection's rows (or of the `only` remote ids) to
    `value(row)`, writing only the rows that differ."""
    rows = _rows(connection).only("pk", "remote_id", field)
    if only is None:
        chunks = [rows.iterator(chunk_size=2000)]
    else:
        # A few hundred ids a query: SQLite caps a statement's parameters.
        ids = sorted(only)
        chunks = [rows.filter(remote_id__in=ids[i : i + BATCH]) for i in range(0, len(ids), BATCH)]
    now = timezone.now()
    changed = []
    for chunk in chunks:
        for row in chunk:
            wanted = sorted(value(row))
            if wanted != getattr(row, field):
                setattr(row, field, wanted)
                row.updated_at = now
                changed.append(row)
    with transaction.atomic():
        Account.objects.bulk_update(changed, [field, "updated_at"], batch_size=BATCH)


# -- what the engine read ------------------------------------------------------------------

# The engine's names of a user's attributes -> the row's fields.
READ_FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "display_name": "display_name",
    "email": "mail",
    "department": "department",
}


def record_account_read(connection_id: int, user: DirectoryUser, access: AccessState) -> None:
    """The engine read one account (a job's plan or its verification): its row shows what
    the read found at once, without waiting for the next inventory read; created when the
    inventory has not seen the account yet. Registered with `engine.outcomes`."""
    now = timezone.now()
    values = {
        "username": user.username,
        "enabled": user.enabled,
        "group_ids": sorted(access.groups - _builtin_groups(connection_id)),
        "licence_ids": sorted(access.licenses),
        "app_ids": sorted(access.apps),
        "deleted": False,
        "last_seen": now,
        "updated_at": now,
    }
    values |= {
        field: str(user.attributes[name])
        for name, field in READ_FIELDS.items()
        if user.attributes.get(name) is not None
    }
    updated = Account.objects.filter(connection_id=connection_id, remote_id=user.id).update(
        **values
    )
    if not updated:
        tenant_id = (
            DirectoryConnection.objects.filter(pk=connection_id)
            .values_list("tenant_id", flat=True)
            .first()
        )
        if tenant_id is not None:
            Account.objects.update_or_create(
                connection_id=connection_id,
                remote_id=user.id,
                defaults=values,
                create_defaults={**values, "tenant_id": tenant_id, "first_seen": now},
            )


def _builtin_groups(connection_id: int) -> set[str]:
    """Groups nobody is put in (Okta's Everyone): an inventory read leaves them out too."""
    return set(
        Resource.objects.filter(
            connection_id=connection_id, kind="groups", detail__builtin=True
        ).values_list("remote_id", flat=True)
    )
