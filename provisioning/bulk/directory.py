"""Which of many usernames a tenant's directories hold already, in few calls.

A file of a handful of people looks each candidate up (concurrently, a few at a time); a big
file reads each directory's user list once when its connector can list (`list_usernames`).
Like `services._in_directory`, a directory that cannot answer counts as "not taken" and says
so: the job's own plan checks again before it creates anything. As for the single form
(`services.suggest_username`), the directories name people and an app downstream of them (a
SCIM app) is not asked: its account of the same name is the same person's, and the file's dry
run shows a clash there as the form's does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from provisioning.connectors import bridge
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from tenants.crypto import CredentialError
from tenants.models import Tenant

FIND_CONCURRENCY = 8
LIST_ABOVE = 25  # more candidates than this: read the whole list if the connector can
TIMEOUT_S = 120.0


class _Source:
    def __init__(self, connection):
        self.label = connection.label
        self.connector = None
        self.error = ""
        self.listed = False
        self.taken: set[str] = set()
        self.checked: set[str] = set()
        try:
            self.connector = connector_for(connection)
        except CredentialError:
            self.error = "its stored credential cannot be decrypted"

    @property
    def usable(self) -> bool:
        return self.connector is not None and not self.error


class DirectoryNames:
    def __init__(self, tenant: Tenant):
        connections = tenant.connections.order_by("kind", "pk")
        self.sources = [_Source(c) for c in connections if not c.assigned_by_template]

    def prefetch(self, usernames: Iterable[str]) -> None:
        wanted = {u.lower() for u in usernames if u}
        for source in self.sources:
            if not source.usable or source.listed:
                continue
            lister = getattr(source.connector, "list_usernames", None)
            if lister is not None and len(wanted) > LIST_ABOVE:
                self._list(source, lister)
            else:
                self._find(source, wanted - source.checked)

    def holder(self, username: str) -> str:
        """The directory that holds `username` ("" if none does, or none could tell)."""
        name = username.lower()
        for source in self.sources:
            if source.usable and not source.listed and name not in source.checked:
                self._find(source, {name})
            if name in source.taken:
                return source.label
        return ""

    @property
    def problems(self) -> list[str]:
        return [
            f"{s.label} could not be read ({s.error}), so usernames were not checked there; "
            "each job checks again before it creates an account."
            for s in self.sources
            if s.error
        ]

    def _list(self, source: _Source, lister) -> None:
        try:
            names = bridge.run(lister(), timeout=TIMEOUT_S)
        except (ConnectorError, TimeoutError) as exc:
            source.error = getattr(exc, "message", "") or "no answer in time"
            return
        source.taken |= {n.lower() for n in names}
        source.listed = True

    def _find(self, source: _Source, usernames: set[str]) -> None:
        if not usernames:
            return
        try:
            found, error = bridge.run(_find_all(source.connector, usernames), timeout=TIMEOUT_S)
        except TimeoutError:
            found, error = set(), "no answer in time"
        source.checked |= usernames
        source.taken |= found
        if error:
            source.error = error


async def _find_all(connector, usernames: set[str]) -> tuple[set[str], str]:
    """The usernames that exist, and the last error (if any lookup failed)."""
    gate = asyncio.Semaphore(FIND_CONCURRENCY)
    errors: list[str] = []

    async def exists(username: str) -> bool:
        async with gate:
            try:
                return await connector.find_user(username) is not None
            except ConnectorError as exc:
                errors.append(exc.message or exc.__class__.__name__)
                return False

    answers = await asyncio.gather(*(exists(u) for u in sorted(usernames)))
    found = {u for u, hit in zip(sorted(usernames), answers, strict=True) if hit}
    return found, errors[-1] if errors else ""


class GroupNames:
    """Every group of a tenant's directories and apps, by name and id (any case), read once
    when first asked: a kept group the file names must be one of them, or the row would keep
    nothing and the group it meant would be removed."""

    def __init__(self, tenant: Tenant):
        self.tenant = tenant
        self._known: set[str] | None = None
        self._unchecked = False

    def _read(self) -> set[str] | None:
        known: set[str] = set()
        for connection in self.tenant.connections.order_by("kind", "pk"):
            try:
                groups = bridge.run(connector_for(connection).groups(), TIMEOUT_S)
            except (CredentialError, ConnectorError, TimeoutError):
                return None  # a directory that cannot answer: the names are not checked
            known |= {g.name.casefold() for g in groups} | {g.id.casefold() for g in groups}
        return known

    def unknown(self, names: Iterable[str]) -> list[str]:
        """The names no directory has (none when a directory could not be read)."""
        names = [n for n in names if n]
        if not names:
            return []
        if self._known is None:
            self._known = self._read() or set()
            self._unchecked = not self._known
        if self._unchecked:
            return []
        return [n for n in names if n.casefold() not in self._known]

    def message(self, name: str, column: str = "keep_groups ") -> str:
        return (
            f"{column}“{name}” is no group of {self.tenant.name}'s directories: check its "
            "spelling (a group not kept is removed)."
        )
