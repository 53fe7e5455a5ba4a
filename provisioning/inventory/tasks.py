"""The inventory's tasks (found by autodiscovery, as this package is an app): a beat tick that
starts the due reads, one read per connection, and the on-demand start for a button."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from portal.audit.events import record
from provisioning.inventory import (
    service,
    tasks_adopt,  # noqa: F401  (bulk adoption's task)
)
from provisioning.inventory.models import Cursor
from tenants.models import DirectoryConnection


@shared_task(ignore_result=True)
def refresh_due_inventories() -> int:
    """Start a read of every connection whose inventory is due (run by beat)."""
    due = service.due_connections()
    for connection in due:
        refresh_inventory.delay(connection.pk)
    return len(due)


@shared_task(ignore_result=True, acks_late=True)
def refresh_inventory(connection_id: int) -> str:
    """One read of a connection's directory; a second one while it runs does nothing."""
    connection = DirectoryConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "gone"
    cursor = service.refresh(connection)
    return "running elsewhere" if cursor is None else cursor.state


# How often a read asked to follow a running one looks whether that one has ended, and for
# how long (a read that runs longer than this is stale at STALE_RUN, an hour, anyway).
FOLLOW_EVERY_SECONDS = 5
FOLLOW_TRIES = 720


@shared_task(bind=True, ignore_result=True, acks_late=True, max_retries=FOLLOW_TRIES)
def refresh_inventory_after(self, connection_id: int, every_app: bool = False) -> str:
    """A read of the connection that starts after the caller's changes to its directory
    (the demo's seeded accounts): where a read is running, it may have read past them, so
    this one is asked again every FOLLOW_EVERY_SECONDS until that one has ended, then reads
    (`refresh_inventory` would do nothing). `every_app`: the changes assigned apps, so it
    reads every app's assignments (`service.refresh`)."""
    connection = DirectoryConnection.objects.filter(pk=connection_id).first()
    if connection is None:
        return "gone"
    cursor = service.refresh(connection, every_app=every_app)
    if cursor is None:
        raise self.retry(countdown=FOLLOW_EVERY_SECONDS)
    return cursor.state


def refresh_soon(connection: DirectoryConnection) -> bool:
    """Ask for a read of the connection once the caller's transaction commits (a button's
    action); False when one is running already."""
    if service.running(connection):
        return False
    transaction.on_commit(lambda: refresh_inventory.delay(connection.pk))
    return True


STARTED, FOLLOWS, FOLLOWING, QUARANTINED = "started", "follows", "following", "quarantined"


def request_refresh(connection: DirectoryConnection, *, actor, request=None) -> str:
    """A person asks for a read of the connection now (audited: "inventory.refresh"):
    STARTED; FOLLOWS when one is running (it may have read past what they have just changed
    in the directory): one more is queued to start once it has ended; FOLLOWING when one is
    queued so already; QUARANTINED (its reads wait, as its jobs do)."""
    if connection.quarantined_at:
        return QUARANTINED
    with transaction.atomic():
        if refresh_soon(connection):
            outcome, after = STARTED, {}
        elif _follow_the_running_read(connection):
            outcome, after = FOLLOWS, {"starts": "after the running read"}
        else:
            return FOLLOWING
        record(
            "inventory.refresh",
            actor=actor,
            tenant=connection.tenant,
            target=connection,
            after={"connection": connection.label, **after},
            request=request,
        )
    return outcome


def _follow_the_running_read(connection: DirectoryConnection) -> bool:
    """Queue one read for after the running one (on commit); False when one is queued."""
    asked = Cursor.objects.filter(connection=connection, follow_up_at__isnull=True).update(
        follow_up_at=timezone.now()
    )
    if asked:
        transaction.on_commit(lambda: refresh_inventory_after.delay(connection.pk))
    return bool(asked)
