"""Reading a connection's directory into the inventory: a full read when it has no cursor,
else what changed since the last read (Graph delta links, Okta's lastUpdated).

One read at a time per connection (claimed by a conditional UPDATE on its cursor row). Its
calls go out as chains of pages (memberships, app users, sign-ins, then the users), several
at once, each chain's next page in flight while the page before is written; every call is
paced through the connection's token bucket, so a full read runs at the connection's rate.
The cursor row counts the calls and accounts as they come, so a page can show the progress.
The catalogue of groups, licences and apps (catalog.py) is kept with the reads; app
assignments, which no directory offers as a delta, are read with full reads and every
INVENTORY_APPS_SECONDS.

A full read writes each account whole as its page comes (its groups and apps are read by
then, its sign-in when known); an incremental one applies memberships and app assignments
once their read is complete. A read that fails half-way leaves the cursor where it was: the
next read replays from there, which delta reads allow, and rows are upserts.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, connections, models, transaction
from django.db.models import Q
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from portal import kept_sql
from portal.bulk_rows import database
from provisioning import quarantine, throttle
from provisioning.connectors import bridge
from provisioning.connectors.base import (
    AccessState,
    AccountChanges,
    DeltaExpiredError,
    DirectoryUser,
    IdPage,
    MembershipChanges,
    ObservedAccount,
    SignInPage,
)
from provisioning.connectors.base import Resource as Listed
from provisioning.connectors.errors import (
    ConnectorError,
    PermissionDeniedError,
    ReplicationLagError,
    ThrottledError,
    TransientError,
)
from provisioning.connectors.factory import connector_for
from provisioning.inventory import catalog, cycle, scope
from provisioning.inventory.models import Account, Cursor, Person, Resource
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection

logger = logging.getLogger(__name__)

T = TypeVar("T")
BATCH = 500  # rows per bulk statement
ATTEMPTS = 5  # tries of one page through transient failures and 429s
# Calls of one read in flight at once: a chain of pages (users, memberships, sign-ins, an
# app's users) has one, the next sent as soon as the one before has come.
IN_FLIGHT = 4
PROGRESS_EVERY = 1.0  # seconds between two writes of a read's counts
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


def refresh(
    connection: DirectoryConnection, *, sleep: Sleep = time.sleep, every_app: bool = False
) -> Cursor | None:
    """Read the connection's directory into its inventory rows: in full without a cursor,
    else incrementally; a refused delta link (expired, reset) starts a full read;
    `every_app`: every app's assignments are read, as a full read does (the caller has just
    assigned apps: an incremental read leaves them for INVENTORY_APPS_SECONDS). None when
    another read of this connection is running. A directory's failure is recorded on the
    cursor row (state failed, last error), not raised; one it did not get over counts
    towards the connection's quarantine, as the engine's do. A read that got to its end is
    followed by the tenant's scope, matching and drift (`cycle.after_read`)."""
    cursor = _claim(connection)
    if cursor is None:
        return None
    try:
        reader = _Reader(connection, cursor, sleep, every_app=every_app)
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
            follow_up_at=None,  # this read starts after whoever asked for one to follow
        )
    )
    return Cursor.objects.get(connection=connection) if claimed else None


def _progress(cursor: Cursor, accounts: int = 0, groups: int = 0) -> None:
    """Count a page's accounts and groups; the counts go to the cursor row at most every
    PROGRESS_EVERY seconds (and when the read ends), for a page to show. `pages_read`
    counts every directory call the read has made (pages of accounts, memberships, app
    users and sign-ins, and catalogue lists): the read's cost."""
    cursor.accounts_read += accounts
    cursor.groups_read += groups
    now = time.monotonic()
    if now - getattr(cursor, "progress_written", 0.0) >= PROGRESS_EVERY:
        cursor.progress_written = now
        Cursor.objects.filter(pk=cursor.pk).update(
            accounts_read=cursor.accounts_read,
            groups_read=cursor.groups_read,
            pages_read=cursor.pages_read,
        )


def _finish(cursor: Cursor, state: str, error: str) -> None:
    cursor.state, cursor.last_error, cursor.finished_at = state, error, timezone.now()
    fields = ["state", "last_error", "finished_at", "accounts_read", "groups_read", "pages_read"]
    if state == Cursor.State.IDLE:
        fields += ["users_cursor", "groups_cursor", "full", "full_read_at", "sign_ins_note"]
    cursor.save(update_fields=fields)
    cursor.refresh_from_db()


# -- the read ------------------------------------------------------------------------------


class _Reader:
    def __init__(
        self, connection: DirectoryConnection, cursor: Cursor, sleep: Sleep, *, every_app: bool
    ):
        self.connection = connection
        self.every_app = every_app
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
        # Memberships (and app assignments) are read before the users and written with or
        # after them, so that a user made between the two reads has its row when its
        # memberships are written (the groups' delta will not report them again). Sign-ins
        # are read meanwhile, beside the others.
        first: list[_Chain] = []
        memberships = groups = None
        if "groups" in catalog.read_kinds(self.connector):
            memberships = _Memberships(full=full)
            groups = _Chain("groups", self.connector.group_changes, memberships.take(self.cursor))
            groups.cursor = "" if full else self.cursor.groups_cursor
            first.append(groups)
        every_app = full or self.every_app
        apps = _AppUsers(_apps_due(self.connection, every_app) if self._reads_apps() else [])
        first += apps.chains(self.connector, self.cursor)
        sign_ins = None
        if full and hasattr(self.connector, "sign_ins"):
            sign_ins = _SignIns(self.connection)
        if sign_ins is not None:
            first.append(sign_ins.chain(self.connector, self.cursor))
        # A full read writes each account whole as its page comes: what it holds is known.
        reads_apps = apps if self._reads_apps() else None
        self.known = _Known(memberships, reads_apps, sign_ins) if full else None
        users = _Chain("users", self.connector.users_changes, self._take_users)
        users.cursor = "" if full else self.cursor.users_cursor
        self._run(first, then=[users])

        if memberships is not None:
            if not full:
                memberships.apply(self.connection)
            memberships.catalogue(self.connection)
        if not full:
            self._catalogue(self._kinds_lacking(memberships))
            apps.apply(self.connection)
        apps.note(self.connection)
        if full:
            # What a full read did not show is gone (Graph's full delta shows the deleted too).
            _rows(self.connection).filter(deleted=False, last_seen__lt=started).update(
                deleted=True, group_ids=[], app_ids=[], updated_at=timezone.now()
            )
            if sign_ins is not None:
                self.cursor.sign_ins_note = sign_ins.note()
            self.cursor.full_read_at = started
        # Only a read that got this far moves the cursors on.
        self.cursor.users_cursor = users.last
        if groups is not None:
            self.cursor.groups_cursor = groups.last

    def _full_read_due(self) -> bool:
        """A full read now and then sees what incremental reads cannot: Okta's deleted users
        and new sign-ins (lastLogin does not move lastUpdated), Entra's signInActivity (not
        in delta)."""
        last = self.cursor.full_read_at
        interval = timedelta(seconds=settings.INVENTORY_FULL_READ_SECONDS)
        return last is None or timezone.now() - last >= interval

    def _take_users(self, page: AccountChanges) -> None:
        _upsert(self.connection, page.accounts, self.known)
        _removed(self.connection, page.removed)
        for seen in page.accounts:
            self.licences_seen.update(seen.licences or ())
        _progress(self.cursor, accounts=len(page.accounts) + len(page.removed))

    def _reads_apps(self) -> bool:
        return "apps" in catalog.read_kinds(self.connector)

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
            if kind == "apps":
                listed = self._with_granting_groups(listed)
            catalog.store(self.connection, kind, listed)
            _progress(self.cursor)

    def _with_granting_groups(self, apps: list[Listed]) -> list[Listed]:
        """Each app with the groups that grant it ("granted_by"), where the directory assigns
        apps to groups (Okta): their members hold it through the group, not as drift."""
        granting_of = getattr(self.connector, "groups_granting", None)
        if granting_of is None:
            return apps
        granted = []
        for app in apps:
            groups = self._page(lambda app=app: granting_of([app.id])).get(app.id, ())
            granted.append(replace(app, detail={**app.detail, "granted_by": sorted(groups)}))
        return granted

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

    # -- the calls -------------------------------------------------------------------------

    def _run(self, first: list[_Chain], then: list[_Chain]) -> None:
        """Read the chains page by page, several chains at once, each chain's next page sent
        as soon as the one before has come, so that it travels while that one is written;
        every call paced through the connection's bucket. Pages are written here, in this
        thread (the database is touched nowhere else). The chains `then` start once every
        chain of `first` but the background ones has ended; a background chain gets the
        calls the others leave (it fills the gaps while the users' pages are written)."""
        ready = _Ready(first)
        waiting_for = {chain.name for chain in first if not chain.background}
        if not waiting_for:
            ready.extend(then)
        flying: dict[Future, _Chain] = {}
        pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="inventory-read")
        try:
            while ready or flying:
                pause = None
                if ready and len(flying) < IN_FLIGHT:
                    pause = throttle.acquire(self.connection)
                    if pause <= 0:
                        chain = ready.pop()
                        flying[pool.submit(_fetch, chain.fetch, chain.cursor)] = chain
                        continue
                if not flying:
                    self.sleep(pause)
                    continue
                done, _ = wait(flying, timeout=pause, return_when=FIRST_COMPLETED)
                for future in done:
                    chain = flying.pop(future)
                    page = self._answer(future, chain)
                    if page is not None and page.more:
                        chain.cursor = page.cursor
                        ready.extend([chain])  # the next page goes out before this is written
                    if page is not None:
                        chain.take(page)
                    if page is None or not page.more:
                        chain.last = page.cursor if page is not None else ""
                        if chain.name in waiting_for:
                            waiting_for.discard(chain.name)
                            if not waiting_for:
                                ready.extend(then)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _answer(self, future: Future, chain: _Chain):
        """The page a call brought; after a 429 or a transient failure, the page asked again
        on its own with the retries of `_page`. None: the chain's directory refused it in a
        way the chain tolerates (noted on the chain)."""
        try:
            try:
                page = future.result()
            except ThrottledError as exc:
                throttle.throttled(self.connection, exc.retry_after)
            except (TransientError, TimeoutError) as exc:
                self.sleep(getattr(exc, "retry_after", None) or 2.0)
            else:
                self.cursor.pages_read += 1
                return page
            return self._page(lambda: chain.fetch(chain.cursor))
        except chain.tolerate as exc:
            chain.refused = exc
            return None

    def _page(self, call: Callable[[], Awaitable[T]]) -> T:
        """One directory call, paced through the connection's bucket; retried (a few times)
        after a 429 or a transient failure, waiting what the directory asked."""
        for attempt in range(1, ATTEMPTS + 1):
            while (pause := throttle.acquire(self.connection)) > 0:
                self.sleep(pause)
            try:
                answer = bridge.run(call())
            except ThrottledError as exc:
                throttle.throttled(self.connection, exc.retry_after)
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


@dataclass
class _Chain:
    """A read that goes page by page, each page giving the cursor of the next: the users,
    the memberships, the sign-ins, one app's users."""

    name: str
    fetch: Callable[[str], Awaitable]  # cursor -> the page's coroutine
    take: Callable[[Any], None]  # writes a page (in the reader's thread)
    cursor: str = ""  # of the next page to ask for
    last: str = ""  # once done: where the next read starts
    tolerate: tuple[type[Exception], ...] = ()
    refused: Exception | None = None
    background: bool = False  # the chains that come next need not wait for it


class _Ready:
    """Chains whose next page may be asked for: the others before the background ones."""

    def __init__(self, chains: list[_Chain]) -> None:
        self.front: deque[_Chain] = deque()
        self.back: deque[_Chain] = deque()
        self.extend(chains)

    def extend(self, chains: list[_Chain]) -> None:
        for chain in chains:
            (self.back if chain.background else self.front).append(chain)

    def pop(self) -> _Chain:
        return self.front.popleft() if self.front else self.back.popleft()

    def __bool__(self) -> bool:
        return bool(self.front or self.back)


def _fetch(fetch: Callable[[str], Awaitable[T]], cursor: str) -> T:
    """One call, in a thread of the read's pool (no database here)."""
    return bridge.run(fetch(cursor))


class _SignIns:
    """Last sign-ins, where the directory keeps them apart from the user (Entra's
    signInActivity, 120 a page): read beside the other chains; one whose account has been
    written already is written at once, the others with their account's page."""

    def __init__(self, connection: DirectoryConnection) -> None:
        self.connection = connection
        self.last: dict[str, str | None] = {}  # account id -> ISO 8601 (None: never)
        self.written: set[str] = set()  # accounts this read has written
        self.read: _Chain | None = None

    def chain(self, connector, cursor: Cursor) -> _Chain:
        def take(page: SignInPage) -> None:
            now = {}
            for remote_id, moment in page.last_sign_in.items():
                if remote_id in self.written:
                    now[remote_id] = moment
                else:
                    self.last[remote_id] = moment
            _write_sign_ins(self.connection, now)
            _progress(cursor)

        # A tenant without the licence or the permission is noted, not failed.
        self.read = _Chain(
            "sign-ins",
            connector.sign_ins,
            take,
            tolerate=(PermissionDeniedError,),
            background=True,
        )
        return self.read

    def of(self, remote_id: str) -> dict:
        """For an account's row as its page is written: its last sign-in, when known."""
        self.written.add(remote_id)
        if remote_id not in self.last:
            return {}
        return {"last_sign_in": parse_datetime(self.last.pop(remote_id) or "")}

    def note(self) -> str:
        """Why there are none ("" when there are)."""
        if self.read is not None and self.read.refused is not None:
            return self.read.refused.message[:500]
        return ""


class _AppUsers:
    """The users of each app read (one chain per app: no directory offers a delta of app
    assignments), written once the read is complete."""

    def __init__(self, apps: list[str]) -> None:
        self.apps = apps
        self.holders: dict[str, set[str]] = defaultdict(set)  # user id -> apps
        self.started = timezone.now()

    def chains(self, connector, cursor: Cursor) -> list[_Chain]:
        def take(app_id: str, page: IdPage) -> None:
            for user_id in page.ids:
                self.holders[user_id].add(app_id)
            _progress(cursor)

        return [
            _Chain(
                f"app {app_id}",
                functools.partial(connector.app_users, app_id),
                functools.partial(take, app_id),
            )
            for app_id in self.apps
        ]

    def apply(self, connection: DirectoryConnection) -> None:
        """Incremental: the apps read replace what the rows held of them."""
        if not self.apps:
            return
        read = set(self.apps)

        def apps_of(row: Account) -> set[str]:
            return set(row.app_ids) - read | self.holders.get(row.remote_id, set())

        _set_lists(connection, "app_ids", apps_of)

    def note(self, connection: DirectoryConnection) -> None:
        if self.apps:
            catalog.note(
                connection, "apps", self.apps, assignments_read_at=self.started.isoformat()
            )


class _Known:
    """What a full read knows of an account by the time its page comes: its groups and apps
    (read before the users), its last sign-in when that page has come already."""

    def __init__(
        self,
        memberships: _Memberships | None,
        apps: _AppUsers | None,
        sign_ins: _SignIns | None,
    ) -> None:
        self.memberships = memberships
        self.apps = apps
        self.sign_ins = sign_ins

    def of(self, remote_id: str) -> dict:
        known = {}
        if self.apps is not None:
            known["app_ids"] = sorted(self.apps.holders.get(remote_id, ()))
        if self.memberships is not None:
            known["group_ids"] = sorted(self.memberships.added.get(remote_id, ()))
        if self.sign_ins is not None:
            known |= self.sign_ins.of(remote_id)
        return known


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

    def take(self, cursor: Cursor) -> Callable[[MembershipChanges], None]:
        def take(page: MembershipChanges) -> None:
            # A group comes in several pages (Okta lists the groups, then each one's
            # members, a page at a time): the read counts it once.
            shown = set(page.added) | set(page.removed) | set(page.deleted_groups)
            new = shown - self.groups - self.deleted
            self.add(page)
            _progress(cursor, groups=len(new))

        return take

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


def _upsert(
    connection: DirectoryConnection, accounts: list[ObservedAccount], known: _Known | None = None
) -> None:
    """Insert the new accounts and update the known ones: a query to read, then a statement
    per BATCH rows of each. `known`: in a full read, what else it knows of each account by
    now (groups, apps, last sign-in), written in the same statements.

    Another writer may insert a row of the page between the query and the INSERT: the
    engine's read of an account it has just made (`record_account_read`), committed or
    still in its job's transaction (PostgreSQL's INSERT waits for it). Its rows are skipped
    by the INSERT, not an error, and the page is written again over the rows now there, as
    it would have been had they been there when it asked: the read fails on nothing and
    loses nothing (the engine's row keeps its first_seen, person and scope verdict)."""
    if not accounts:
        return
    # Taken once (taking a sign-in marks its account written).
    extras = {seen.id: known.of(seen.id) for seen in accounts} if known is not None else {}
    for attempt in (1, 2):
        new = _write_page(connection, accounts, extras)
        if not new:
            return
        if attempt == 2:
            raise IntegrityError(f"inventory rows of {connection.pk} inserted twice meanwhile")
        logger.info("inventory of %s: %d rows written meanwhile", connection.pk, len(new))
        taken = {row.remote_id for row in new}
        accounts = [seen for seen in accounts if seen.id in taken]


def _write_page(
    connection: DirectoryConnection, accounts: list[ObservedAccount], extras: dict[str, dict]
) -> list[Account]:
    """One pass of `_upsert`: the new rows whose INSERT another writer forestalled, if any
    ([] when every row was written)."""
    now = timezone.now()
    rows = {
        row.remote_id: row
        for row in _rows(connection).filter(remote_id__in=[a.id for a in accounts])
    }
    new, changed = [], []
    extra: set[str] = set()
    for seen in accounts:
        row = rows.get(seen.id)
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
        for name, value in extras.get(seen.id, {}).items():
            setattr(row, name, value)
            extra.add(name)
    with transaction.atomic():
        inserted = _insert(new)
        _write(changed, [*WRITTEN, *sorted(extra - set(WRITTEN))])
    return [] if inserted == len(new) else new


WRITTEN = [*FIELDS, "licence_ids", "last_sign_in", "deleted", "last_seen", "updated_at"]


def _write_sign_ins(connection: DirectoryConnection, last: dict[str, str | None]) -> None:
    """Last sign-ins of accounts whose rows exist, by their remote id."""
    if not last:
        return
    db = connections[Account.objects.db]
    quote = db.ops.quote_name
    field = Account._meta.get_field("last_sign_in")
    with db.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Account._meta.db_table)} SET {quote(field.column)} = %s "  # noqa: S608
            f"WHERE {quote('connection_id')} = %s AND {quote('remote_id')} = %s",
            [
                (field.get_db_prep_save(parse_datetime(moment or ""), db), connection.pk, remote_id)
                for remote_id, moment in last.items()
            ],
        )


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
        _write(changed, [field, "updated_at"])


def _insert(rows: list[Account]) -> int:
    """Insert new rows in one executemany (bulk_create prepares every value through its
    expression machinery, most of a full read's CPU; a short statement, unlike one INSERT
    of many rows, is parsed once by the driver). A row whose connection and remote id
    another writer has inserted meanwhile is skipped (ON CONFLICT DO NOTHING, which waits
    for that writer's transaction to end); how many were inserted."""
    if not rows:
        return 0
    db = connections[Account.objects.db]
    quote = db.ops.quote_name
    columns = [field for field in Account._meta.concrete_fields if not field.primary_key]
    prepared = _preparers(columns, db)
    names = ", ".join(quote(column.column) for column in columns)
    with db.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {quote(Account._meta.db_table)} ({names}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(columns))}) "
            f"ON CONFLICT ({quote('connection_id')}, {quote('remote_id')}) DO NOTHING",
            [[prep(getattr(row, attname)) for attname, prep in prepared] for row in rows],
        )
        return cursor.rowcount


def _write(rows: list[Account], fields: list[str]) -> None:
    """Save `fields` of `rows` in one executemany of a short UPDATE (Django's bulk_update
    builds a CASE WHEN per row and field: a second of CPU per thousand rows)."""
    if not rows:
        return
    db = connections[Account.objects.db]
    quote = db.ops.quote_name
    columns = [Account._meta.get_field(name) for name in fields]
    prepared = _preparers(columns, db)
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    with db.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Account._meta.db_table)} SET {assignments} "  # noqa: S608
            f"WHERE {quote('id')} = %s",
            [
                [*(prep(getattr(row, attname)) for attname, prep in prepared), row.pk]
                for row in rows
            ],
        )


def _preparers(columns: list, db) -> list[tuple[str, Callable]]:
    """(attname, how its value goes to the database) per column: Django's own preparation
    where the type needs it (JSON, dates and times), else the value as it is."""
    as_is = lambda value: value  # noqa: E731
    return [
        (
            column.attname,
            functools.partial(column.get_db_prep_save, connection=db)
            if isinstance(column, models.JSONField | models.DateTimeField)
            else as_is,
        )
        for column in columns
    ]


# -- what the engine read ------------------------------------------------------------------

# The engine's names of a user's attributes -> the row's fields.
READ_FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "display_name": "display_name",
    "email": "mail",
    "department": "department",
}


def record_account_read(
    connection: DirectoryConnection, user: DirectoryUser, access: AccessState
) -> None:
    """The engine read one account (a job's plan or its verification): its row shows what
    the read found at once, without waiting for the next inventory read; created when the
    inventory has not seen the account yet, with the person of the identity linked to it,
    and with the tenant's scope verdict on what the read shows (so a person onboarded before
    the directory's first read is not "out of scope" for want of a verdict; a known row keeps
    the verdict the inventory's last apply_scope gave it on the whole row). One statement
    (an upsert) after the policy's read. Registered with `engine.outcomes`."""
    now = timezone.now()
    values = {
        "username": user.username,
        "enabled": user.enabled,
        "group_ids": sorted(access.groups - access.built_in_groups),
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
    row = Account(
        tenant_id=connection.tenant_id,
        connection_id=connection.pk,
        remote_id=user.id,
        first_seen=now,
        **values,
    )
    row.in_scope, row.scope_reason = scope.account_in_scope(
        scope.current_policy(connection.tenant_id), row
    )
    _upsert_read(row, tuple(values))


def _linked_person(connection_id: int, remote_id: str) -> models.Subquery:
    """The person of the identity whose directory account this is, if any."""
    return models.Subquery(
        Person.objects.filter(
            identity__accounts__connection_id=connection_id,
            identity__accounts__remote_id=remote_id,
        ).values("pk")[:1]
    )


def _upsert_read(row: Account, update_fields: tuple[str, ...]) -> None:
    """`row` (its person the `_linked_person` of its account) inserted, or `update_fields`
    set on the row of its account: the statement the manager's
    `bulk_create([row], update_conflicts=True, unique_fields=["connection", "remote_id"],
    update_fields=…)` sends, kept per shape (portal/kept_sql.py: the names it updates, the
    values that are None or booleans, which are written into the text, and the others'
    types), so that a read of a known shape is not built by Django's compilers again."""
    values = {f.attname: getattr(row, f.attname) for f in _upserted_fields()}
    del values["person_id"]
    fixed = {name: v for name, v in values.items() if v is None or type(v) is bool}
    varying = [name for name in values if name not in fixed]
    shape = (
        "inventory account read",
        update_fields,
        tuple(fixed.items()),
        tuple(type(values[name]) for name in varying),
    )

    def build(*given: Any) -> kept_sql.Built:
        made = Account(**fixed, **dict(zip(varying, given, strict=True)))
        made.person_id = _linked_person(made.connection_id, made.remote_id)
        return _upsert_statement(made, update_fields)

    built = kept_sql.kept(shape, build, *(values[name] for name in varying))
    # One statement: its own transaction when none is open (a job's plan and verifying read),
    # else part of the caller's, which a failure marks for rollback as Django's single-row
    # `save` does; no BEGIN and COMMIT of its own, as bulk_create's `atomic` would send.
    with transaction.mark_for_rollback_on_error(), database().cursor() as cursor:
        cursor.execute(built.sql, built.params)


def _upserted_fields() -> list[models.Field]:
    # bulk_create's: the concrete fields but the generated ones and the auto primary key
    return [
        f
        for f in Account._meta.concrete_fields
        if not f.generated and not isinstance(f, models.AutoField)
    ]


def _upsert_statement(row: Account, update_fields: tuple[str, ...]) -> kept_sql.Built:
    """As `QuerySet.bulk_create` builds it (`_batched_insert`, `_insert`, then the insert
    compiler's `execute_sql`): RETURNING the model's returning fields where the backend
    returns rows from a bulk insert."""
    meta, db = Account._meta, database()
    query = InsertQuery(
        Account,
        on_conflict=OnConflict.UPDATE,
        update_fields=[meta.get_field(name) for name in update_fields],
        unique_fields=[meta.get_field("connection"), meta.get_field("remote_id")],
    )
    query.insert_values(_upserted_fields(), [row], raw=False)
    compiler = query.get_compiler(connection=db)
    if db.features.can_return_rows_from_bulk_insert:
        compiler.returning_fields = meta.db_returning_fields
    [(sql, params)] = compiler.as_sql()
    return kept_sql.Built(sql, list(params))
