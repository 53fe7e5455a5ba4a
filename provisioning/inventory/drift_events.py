"""drift.detected: one event per connection per detection run that opened new items, never
one per item. A run over a tenant can open hundreds of rows (a group renamed by hand); a
receiver (a PSA) wants one ticket per directory that says how much and links the report,
which holds the rows. Items found again, or resolved, are no news."""

from __future__ import annotations

from collections import defaultdict

from provisioning.events import describe
from provisioning.events.models import Event
from provisioning.events.publish import emit
from provisioning.inventory.models import Drift, Person
from tenants.models import DirectoryConnection, Tenant

SAMPLE = 20  # items named in the event; the report has them all


def emit_new_drift(tenant: Tenant, new: list[Drift]) -> int:
    """Inside the transaction that stored `new`; how many events were emitted."""
    by_connection: dict[int, list[Drift]] = defaultdict(list)
    for row in new:
        by_connection[row.connection_id].append(row)
    connections = DirectoryConnection.objects.filter(pk__in=by_connection).select_related("tenant")
    names = dict(
        Person.objects.filter(pk__in={row.person_id for row in new}).values_list(
            "pk", "display_name"
        )
    )
    for connection in connections:
        rows = by_connection[connection.pk]
        emit(Event.Kind.DRIFT_DETECTED, tenant=tenant, data=_data(connection, rows, names))
    return len(by_connection)


def _data(connection: DirectoryConnection, rows: list[Drift], names: dict[int, str]) -> dict:
    return {
        "connection": describe.connection(connection),
        "opened": len(rows),
        "people": len({row.person_id for row in rows}),
        "url": describe.portal_url("drift_report", tenant=connection.tenant.slug),
        "items": [
            {
                "person": names.get(row.person_id, ""),
                "kind": row.kind,
                "access_kind": row.access_kind,
                "ref_name": row.ref_name,
            }
            for row in rows[:SAMPLE]
        ],
    }
