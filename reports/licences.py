"""Licence seats per SKU, read from each Entra directory and kept in the "snapshots" cache.

Pages never call a directory while they render: they show what was last read here, and how
old it is. Readings come from the beat task (every connection, every 15 minutes) and from the
dashboard's refresh button (one tenant, on demand). A failed reading keeps the last good
counts and says why it failed. Okta has no licence SKUs, so only Entra connections are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import caches
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from provisioning import throttle
from provisioning.connectors import bridge
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection, Tenant

READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SkuSeats:
    name: str
    total: int
    consumed: int

    @property
    def free(self) -> int:
        return self.total - self.consumed

    @property
    def over(self) -> int:
        """Seats in use beyond those bought: Entra restores a user's licences "even if there
        are no seats available for those licenses" (azure-docs users-restore.md)."""
        return max(self.consumed - self.total, 0)


@dataclass(frozen=True)
class Snapshot:
    """The last good reading of one connection (`read_at`), and the last attempt's error."""

    connection_id: int
    read_at: datetime | None
    skus: tuple[SkuSeats, ...] = ()
    error: str = ""
    tried_at: datetime | None = None

    @property
    def age_s(self) -> float | None:
        return None if self.read_at is None else (timezone.now() - self.read_at).total_seconds()

    def as_dict(self) -> dict:
        return {
            "read_at": self.read_at.isoformat() if self.read_at else None,
            "tried_at": self.tried_at.isoformat() if self.tried_at else None,
            "error": self.error,
            "skus": [[s.name, s.total, s.consumed] for s in self.skus],
        }

    @classmethod
    def from_dict(cls, connection_id: int, data: dict) -> Snapshot:
        return cls(
            connection_id=connection_id,
            read_at=parse_datetime(data["read_at"]) if data.get("read_at") else None,
            skus=tuple(SkuSeats(n, int(t), int(c)) for n, t, c in data.get("skus", [])),
            error=data.get("error", ""),
            tried_at=parse_datetime(data["tried_at"]) if data.get("tried_at") else None,
        )


def _cache():
    return caches["snapshots"]


def _key(connection_id: int) -> str:
    return f"licences:{connection_id}"


def snapshots_for(connection_ids: Iterable[int]) -> dict[int, Snapshot]:
    """The stored readings of these connections (one cache round trip, no SQL)."""
    keys = {_key(pk): pk for pk in connection_ids}
    found = _cache().get_many(list(keys))
    return {keys[k]: Snapshot.from_dict(keys[k], v) for k, v in found.items()}


def read(connection: DirectoryConnection) -> Snapshot:
    """Read the connection's SKUs from the directory now and store the result."""
    previous = snapshots_for([connection.pk]).get(connection.pk)
    now = timezone.now()
    try:
        if throttle.acquire(connection) > 0:
            raise ConnectorError("Paused by the rate limit; the next reading will try again.")
        resources = bridge.run(connector_for(connection).licenses(fresh=True), READ_TIMEOUT_S)
    except (ConnectorError, CredentialError, TimeoutError) as exc:
        message = getattr(exc, "message", "") or str(exc) or "No answer from the directory."
        snapshot = Snapshot(
            connection.pk,
            previous.read_at if previous else None,
            previous.skus if previous else (),
            error=message[:300],
            tried_at=now,
        )
    else:
        skus = tuple(
            SkuSeats(
                r.name or r.id, int(r.detail.get("total") or 0), int(r.detail.get("consumed") or 0)
            )
            for r in resources
        )
        snapshot = Snapshot(connection.pk, now, tuple(sorted(skus, key=lambda s: s.name)), "", now)
    store(snapshot)
    return snapshot


def store(snapshot: Snapshot) -> None:
    _cache().set(_key(snapshot.connection_id), snapshot.as_dict(), timeout=None)


def readable_connections():
    """Entra connections worth reading: active tenant, a stored secret, not quarantined."""
    return DirectoryConnection.objects.filter(
        kind=DirectoryConnection.Kind.ENTRA,
        tenant__is_active=True,
        quarantined_at__isnull=True,
    ).exclude(secret_ciphertext="")


def refresh(tenant: Tenant | None = None) -> list[Snapshot]:
    """Read every readable connection (of `tenant`, or of all tenants) now."""
    connections = readable_connections()
    if tenant is not None:
        connections = connections.filter(tenant=tenant)
    return [read(connection) for connection in connections.iterator()]
