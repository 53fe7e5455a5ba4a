"""The daily credential check: read each connection's credential expiry from its directory
where the connector can (`reads_credential_expiry`), else take the date typed into the
connection form, and emit `credential.expiring` once per threshold per expiry date."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.audit.events import record
from provisioning.alerts.models import CredentialWarning
from provisioning.connectors import bridge
from provisioning.connectors.errors import ConnectorError
from provisioning.connectors.factory import connector_for, connector_type
from provisioning.events import describe
from provisioning.events.models import Event
from provisioning.events.publish import emit
from tenants.crypto import CredentialError
from tenants.models import DirectoryConnection

log = logging.getLogger(__name__)
THRESHOLDS = (30, 7, 1)
EXPIRED = 0  # the threshold recorded once the credential ends today or has ended


def check_all(now: datetime | None = None) -> int:
    """Check every connection; how many `credential.expiring` events were emitted."""
    now = now or timezone.now()
    emitted = 0
    for connection in DirectoryConnection.objects.select_related("tenant").order_by("pk"):
        emitted += check(connection, now)
    return emitted


def check(connection: DirectoryConnection, now: datetime) -> int:
    """Read the directory's date where it tells one, then warn if a threshold is reached."""
    if connector_type(connection).reads_credential_expiry and connection.has_secret:
        read_from_directory(connection)
    return warn_if_due(connection, now)


def read_from_directory(connection: DirectoryConnection) -> bool:
    """Store what the directory says about the credential in use; whether it answered. A
    directory that cannot be asked keeps the last answer (and the typed-in date)."""
    try:
        found = bridge.run(connector_for(connection).credential_expiry(), timeout=60)
    except (ConnectorError, CredentialError, TimeoutError) as exc:
        log.warning("Could not read the credential expiry of connection %s: %s", connection.pk, exc)
        return False
    store_read(connection, found.expires_at if found else None, found.which if found else "")
    return True


def store_read(connection: DirectoryConnection, expires_at: datetime | None, which: str) -> None:
    """Keep the directory's answer on the connection; audited when it changed (a new secret
    at the directory, or one moved)."""
    before = {"expires_at": _iso(connection.credential_expiry_read)}
    after = {"expires_at": _iso(expires_at)}
    if before == after and connection.credential_expiry_detail == which[:200]:
        return
    with transaction.atomic():
        connection.credential_expiry_read, connection.credential_expiry_detail = (
            expires_at,
            which[:200],
        )
        connection.save(update_fields=["credential_expiry_read", "credential_expiry_detail"])
        record(
            "connection.credential_expiry_read",
            actor="system",
            tenant=connection.tenant,
            target=connection,
            before=before,
            after={**after, "chosen": which[:200]},
        )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def due_threshold(days_left: int) -> int | None:
    """The tightest threshold reached, or None when the end is further than all of them."""
    if days_left <= 0:
        return EXPIRED
    reached = [t for t in THRESHOLDS if days_left <= t]
    return min(reached) if reached else None


def warn_if_due(connection: DirectoryConnection, now: datetime) -> int:
    expires_on = connection.credential_expires_on
    if expires_on is None:
        return 0
    days_left = (expires_on - timezone.localdate(now)).days
    threshold = due_threshold(days_left)
    if threshold is None:
        return 0
    sent = CredentialWarning.objects.filter(connection=connection, expires_on=expires_on)
    if sent.filter(threshold_days__lte=threshold).exists():
        return 0  # this one, or a tighter one, was told already
    try:
        with transaction.atomic():
            CredentialWarning.objects.create(
                connection=connection, expires_on=expires_on, threshold_days=threshold
            )
            emit(
                Event.Kind.CREDENTIAL_EXPIRING,
                tenant=connection.tenant,
                data=_data(connection, expires_on, days_left),
            )
    except IntegrityError:  # a concurrent run told it first
        return 0
    return 1


def _data(connection: DirectoryConnection, expires_on, days_left: int) -> dict:
    described = describe.connection(connection)
    return {
        "connection": described,
        "tenant": {"slug": connection.tenant.slug, "name": connection.tenant.name},
        "expires_at": (
            connection.credential_expiry_read.isoformat()
            if connection.credential_expiry_read
            else expires_on.isoformat()
        ),
        "days_left": days_left,
        "source": connection.credential_expiry_source,
        "credential": connection.credential_expiry_detail,
        "url": described["url"],
    }
