"""The one interface every directory connector implements (all methods are coroutines)."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from math import inf
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings

from provisioning.connectors.errors import (
    ConnectorError,
    EndpointRefusedError,
    PermanentError,
    UnexpectedError,
)
from tenants import endpoints

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    username: str  # Entra: userPrincipalName; Okta: login
    enabled: bool
    attributes: dict = field(default_factory=dict)  # our attribute names, e.g. department


@dataclass(frozen=True)
class NewUser:
    username: str
    first_name: str
    last_name: str
    display_name: str
    email: str
    password: str
    enabled: bool = True
    attributes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Resource:
    """A group, app or licence SKU as the directory names it, with its id."""

    id: str
    name: str
    detail: dict = field(default_factory=dict)  # e.g. free seats for a SKU, app roles


@dataclass(frozen=True)
class HeldRole:
    """A directory (admin) role a user holds: active, or PIM-eligible (may activate it)."""

    role_id: str  # the role definition (Entra: the role template id for built-in roles)
    eligible: bool = False
    scope: str = "/"  # the whole directory, or e.g. /administrativeUnits/{id}


@dataclass(frozen=True)
class AccessState:
    """What a user holds now: ids of groups, apps and licence SKUs; directory roles and
    administrative units where the directory has them (kept apart from groups: a role is not
    removed the way a group membership is)."""

    groups: frozenset[str] = frozenset()
    apps: frozenset[str] = frozenset()
    licenses: frozenset[str] = frozenset()
    roles: frozenset[HeldRole] = frozenset()
    admin_units: frozenset[str] = frozenset()
    # Why the roles could not be read ("" when they were): a permission or a licence missing.
    roles_unread: str = ""
    # Licences held through a group (group-based licensing): not the portal's to remove
    # directly. licence_groups pairs each such SKU id with a group it comes from.
    inherited_licenses: frozenset[str] = frozenset()
    licence_groups: tuple[tuple[str, str], ...] = ()
    # (app id, assignment id) for each app assignment, where the read names them (Entra): a
    # leave's removal deletes these ones without listing the user's assignments again. Not
    # what the user holds (`apps` says that): two reads of the same access compare equal.
    app_assignments: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # Of `groups`, those the directory puts every user in (Okta's Everyone), as the read that
    # listed them said: an inventory's row of the account leaves them out.
    built_in_groups: frozenset[str] = field(default=frozenset(), compare=False)


@dataclass(frozen=True)
class ObservedAccount:
    """An account as an inventory read sees it (any account, managed or not)."""

    id: str
    username: str
    enabled: bool
    mail: str = ""
    employee_id: str = ""
    display_name: str = ""
    first_name: str = ""
    last_name: str = ""
    user_type: str = ""
    department: str = ""
    attributes: dict = field(default_factory=dict)  # the rest, as the directory names them
    licences: frozenset[str] | None = None  # None: this read does not tell
    last_sign_in: str | None = None  # ISO 8601, when the directory tells


@dataclass(frozen=True)
class AccountChanges:
    """One page of an inventory read of accounts.

    `cursor` continues the read when `more`, else it is where the next incremental read
    starts (a deltaLink, an Okta lastUpdated watermark)."""

    accounts: list[ObservedAccount]
    removed: list[str]
    cursor: str
    more: bool


@dataclass(frozen=True)
class MembershipChanges:
    """One page of an inventory read of group memberships: per group, member ids added and
    removed; in a full read (no cursor given) every member is an addition. `complete`: groups
    whose every member this read lists (as additions), so members not listed are not."""

    added: dict[str, set[str]]
    removed: dict[str, set[str]]
    deleted_groups: list[str]
    cursor: str
    more: bool
    complete: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SignInPage:
    last_sign_in: dict[str, str | None]  # account id -> ISO 8601 (None: never)
    cursor: str
    more: bool


@dataclass(frozen=True)
class IdPage:
    ids: list[str]
    cursor: str
    more: bool


class DeltaExpiredError(PermanentError):
    """The stored delta link or cursor is no longer accepted: read everything again."""


class ResourceCache:
    """Groups, apps and SKUs of one directory, read at most once per `ttl` seconds."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, list[Resource]]] = {}

    async def get(
        self, key: str, read: Callable[[], Awaitable[list[Resource]]], fresh: bool, ttl: float
    ) -> list[Resource]:
        cached = self._entries.get(key)
        if cached and not fresh and time.monotonic() - cached[0] < ttl:
            return cached[1]
        found = await read()
        self._entries[key] = (time.monotonic(), found)
        return found

    def stale(self, ttls: dict[str, float]) -> int:
        """How many of the catalogues (key -> ttl) the next `get` would read again."""
        return len(self.to_read(ttls, ttls))

    def to_read(self, keys, ttls: dict[str, float]) -> list[str]:
        """Those of `keys` that are catalogues here (key -> ttl) and that the next `get`
        would read again, in their order."""
        now, never = time.monotonic(), (-inf,)
        entries = self._entries
        return [k for k in keys if k in ttls and now - entries.get(k, never)[0] >= ttls[k]]


# A read a plan names before it starts: a connector method and its arguments, e.g.
# ("manager_of", user id) or ("read_state", user id, with_roles).
Read = tuple


class Answered:
    """A connector for one plan: the reads made ahead (`read_ahead`, one round trip) answer
    their methods' calls with the same arguments, raising what the read raised; every other
    call goes to the connector."""

    def __init__(self, connector, answers: dict[Read, object]):
        self._connector = connector
        self._answers = answers
        self._names = {read[0] for read in answers}

    def __getattr__(self, name: str):
        found = getattr(self._connector, name)
        if name not in self._names:
            return found

        async def answered(*args, **kwargs):
            read = (name, *args, *kwargs.values())
            if read not in self._answers:
                return await found(*args, **kwargs)
            answer = self._answers[read]
            if isinstance(answer, ConnectorError):
                raise answer
            return answer

        return answered


async def read_ahead(connector, reads: list[Read]):
    """`connector` with `reads` answered from one read made now, where the directory can
    send them together; else `connector` itself (its methods read as they are called)."""
    ahead = getattr(connector, "read_ahead", None)
    if ahead is None or not reads:
        return connector
    return Answered(connector, await ahead(reads))


def read_cost(connector, reads: list[Read]) -> int:
    """Operations the reads send, as the directory counts them against its limits (a
    `$batch` counts each request it carries): one each unless the connector says."""
    cost = getattr(connector, "read_cost", None)
    return cost(reads) if cost is not None else len(reads)


@dataclass(frozen=True)
class CredentialExpiry:
    """When the credential a connection signs in with ends, as its directory tells it."""

    expires_at: datetime
    key_id: str  # the directory's id of the credential ("" when it has none)
    which: str  # for people: which credential this is, and how it was chosen
    matches_secret_in_use: bool


class Connector(Protocol):
    kind: str  # for people (labels, forms); the engine decides on the capabilities below
    batchable: frozenset[str]  # step actions `apply_many` carries in one request
    supports_licences: bool
    disable_modes: tuple[str, ...]  # ways `disable_user(id, mode=...)` accepts; () for one
    soft_deletes: bool  # a deleted user must be purged as well
    sets_passwords: bool  # holds a password the portal may reset (a SCIM app: none)
    revokes_sessions: bool  # has sign-in sessions the portal may end (a SCIM app: none)
    # Account statuses (`attributes["status"]`) in which the directory refuses a profile
    # update: the update waits for the enable (Okta: DEPROVISIONED).
    profile_frozen_in: frozenset[str]
    compared_attributes: tuple[str, ...]  # attributes the directory holds and we keep equal
    # The directory tells when the credential in use ends (`credential_expiry()`); others
    # rely on the date typed into the connection form.
    reads_credential_expiry: bool

    async def probe(self) -> None: ...
    async def get_user(self, user_id: str) -> DirectoryUser: ...
    async def find_user(self, username: str) -> DirectoryUser | None: ...
    async def list_usernames(self) -> list[str]: ...
    async def create_user(self, user: NewUser) -> DirectoryUser: ...
    async def update_user(self, user_id: str, attributes: dict) -> None: ...
    async def access_of(self, user_id: str) -> AccessState: ...
    # The user and its access in as few sequential round trips as the directory allows (a
    # change is verified by reading the account back); NotFoundError when it does not exist.
    async def read_state(self, user_id: str) -> tuple[DirectoryUser, AccessState]: ...
    async def groups(self) -> list[Resource]: ...
    async def apps(self) -> list[Resource]: ...
    async def licenses(self) -> list[Resource]: ...
    async def set_licenses(self, user_id: str, add: list[str], remove: list[str]) -> None: ...
    async def add_to_group(self, user_id: str, group_id: str) -> None: ...
    async def remove_from_group(self, user_id: str, group_id: str) -> None: ...
    async def assign_app(self, user_id: str, app_id: str) -> None: ...
    async def unassign_app(self, user_id: str, app_id: str) -> None: ...
    async def revoke_sessions(self, user_id: str) -> None: ...
    async def disable_user(self, user_id: str) -> None: ...
    async def reset_password(self, user_id: str, password: str) -> None: ...
    async def delete_user(self, user_id: str) -> None: ...
    # `soft_deletes` only: the deleted user still waits in deleted items (not purged yet).
    async def in_deleted_items(self, user_id: str) -> bool: ...
    async def close(self) -> None: ...
    # Inventory reads, one page a call ("" starts a full read); DeltaExpiredError when the
    # stored cursor is refused. `group_changes` and `app_users` may be absent (not read).
    async def users_changes(self, cursor: str) -> AccountChanges: ...


def same_target_twice(steps: list[dict]) -> bool:
    """Whether two steps (their params) touch the same group, licence or app: only then does
    their order matter, and a connector sends them one after the other."""
    seen: set[str] = set()
    for params in steps:
        targets = {str(params[k]) for k in ("sku_id", "group_id", "app_id") if k in params}
        targets |= {str(t) for t in [*params.get("add", []), *params.get("remove", [])]}
        if targets & seen:
            return True
        seen |= targets
    return False


def classified(cls: type) -> type:
    """Every public coroutine of a connector class raises only the connector errors (or
    TimeoutError): whatever else its SDK lets escape becomes an UnexpectedError here, at the
    boundary, so that nothing above the connectors needs a catch-all."""
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(method):
            setattr(cls, name, _classifying(method))
    return cls


def _classifying(method):
    @functools.wraps(method)
    async def call(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except (ConnectorError, TimeoutError):
            raise
        except Exception as exc:  # the one catch-all: the connector boundary classifies
            logger.exception("%s.%s failed unexpectedly", type(self).__name__, method.__name__)
            raise UnexpectedError(
                f"The directory's answer could not be read ({type(exc).__name__})."
            ) from exc

    return call


def require_allowed(service: endpoints.Service, url: str) -> endpoints.Endpoint:
    """The endpoint a credential may be sent to, else EndpointRefusedError (permanent).

    The forms check this too; this is for rows changed another way (database, old data).
    """
    try:
        return endpoints.check_allowed(service, url)
    except endpoints.EndpointError as exc:
        raise EndpointRefusedError(
            f"Nothing was sent: the {service.value} address is not allowed. {exc}"
        ) from None


def refuse_other_origins(expected: endpoints.Endpoint, sent_to: str) -> None:
    """Raise EndpointRefusedError unless `sent_to` is on `expected`'s origin; every request a
    connector's HTTP client sends passes here, redirects and paging links included."""
    if request_origin(sent_to) != expected.origin:
        raise EndpointRefusedError(
            f"Nothing was sent: a request for {expected.url} was about to go to another host "
            "(a redirect or link from the directory). Credentials only go to the connection's "
            "own endpoints."
        )


def request_origin(url: str) -> tuple[str, str, int] | None:
    """`endpoints.origin_of(url)`, worked out once per scheme and authority a process meets:
    it is asked for every request, and a host name's IDNA and IP address parse cost ~50 µs."""
    parts = urlsplit((url or "").strip())
    return _origin_of_authority(parts.scheme, parts.netloc)


@functools.lru_cache(maxsize=1024)
def _origin_of_authority(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    return endpoints.origin_of(f"{scheme}://{netloc}")


async def refuse_private_addresses(url: str) -> None:
    """EndpointRefusedError when `url`'s host name resolves to a loopback, private or other
    non-public address (a name entered for a SCIM app that points inside the MSP's own
    network); the sandbox's origin excepted. A name that does not resolve is left to the
    request, which fails to connect and is classified as such."""
    await checked_addresses(url)


async def checked_addresses(url: str) -> list[str]:
    """The addresses a request to `url` is to connect to, in the resolver's order: what its
    host resolves to now, once every one of them is public (EndpointRefusedError otherwise;
    the sandbox's origin is not checked). The request connects there (`connect_attempts`),
    not to the name looked up again, so a name that answers otherwise a moment later (DNS
    rebinding) gets no credential. Empty when the name does not resolve."""
    origin = request_origin(url)
    sandbox = origin is not None and origin == endpoints.sandbox_origin()
    host = urlsplit(url).hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        return []
    if not sandbox and (refused := endpoints.first_non_public(found)) is not None:
        address, kind = refused
        raise EndpointRefusedError(
            f"Nothing was sent: {host} resolves to {address}, {kind}. "
            "Credentials only go to public hosts."
        )
    return endpoints.addresses_of(found)


def connect_attempts(addresses: list[str], timeout: float) -> Iterator[tuple[str, float]]:
    """Each checked address, in order, with its connect timeout: an even share of what is
    left of `timeout`, so that the attempts together take no longer than one connection
    may, and an address that never answers leaves time for the next (the fallback a client
    given the name makes). The caller goes on only while an address takes no connection."""
    deadline = time.monotonic() + timeout
    for left in range(len(addresses), 0, -1):
        share = (deadline - time.monotonic()) / left
        if share <= 0:
            return
        yield addresses[-left], share


def unreachable(host: str, failures: list[tuple[str, str]]) -> str:
    """What to tell when no checked address of `host` took a connection: (address, why)."""
    tried = ", ".join(f"{address} ({why})" for address, why in failures)
    return f"Could not connect to {host} at any of its addresses: {tried or 'none tried'}."


def ssl_context_for(url: str) -> ssl.SSLContext:
    """Trust the project's sandbox CA for exactly the sandbox's origin; real clouds keep the
    defaults. One context a process for each trust store, shared by its clients: loading the
    system's CA certificates costs ~30 ms of CPU, which every new client paid (a worker: each
    connection's first job), as aiohttp shares its own default context. The clients set only
    ALPN http/1.1 on it (httpcore and aiohttp, on each connection), all of them alike."""
    if endpoints.is_sandbox(url):
        ca = str(settings.SANDBOX_CA_FILE)
        changed = os.stat(ca)  # a CA written again is loaded again
        return _trusting(ca, changed.st_mtime_ns, changed.st_size)
    return _trusting(None, 0, 0)


@functools.lru_cache(maxsize=8)
def _trusting(cafile: str | None, mtime_ns: int, size: int) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cafile)


def is_sandbox(url: str) -> bool:
    return endpoints.is_sandbox(url)
