"""A copy of the audit trail taken (the audit page's export, the API's) is itself on the trail,
as every report export is (`report.export`): who took it, with which filters, and whether
through the page or an API token.

It goes on the chain that was exported (a named tenant's, or the MSP-wide one), or, for an
export of everything the person may read, on their own tenants' chains (a client admin's, an
assigned account manager's; MSP-wide for everyone else: `portal.audit.people`). The export
holds the trail up to its own record, which it leaves out: each chain's events are numbered
in the order of their ids (a chain's head is locked for each append), so the file holds the
start of each chain with no gap, and what is appended while it streams waits for the next.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import QuerySet
from django.http import HttpRequest

from portal.audit.events import record
from portal.audit.models import AuditEvent, chain_key_for
from portal.audit.people import record_about
from reports.audit_forms import GLOBAL_LABEL
from reports.audit_queries import GLOBAL, AuditFilters, Scope, require_tenant
from tenants.models import Tenant

ACTION = "audit.export"


def record_export(
    scope: Scope,
    filters: AuditFilters,
    events: QuerySet[AuditEvent],
    *,
    actor,
    request: HttpRequest,
    via: str,
) -> QuerySet[AuditEvent]:
    """Record the export of `events` (what `filters` chose in `scope`); the events recorded
    before it, for the file."""
    fields = {
        "actor": actor,
        "after": {"filters": _named(filters), "via": via},
        "request": request,
    }
    if filters.tenant == GLOBAL:
        target = ("audit.chain", chain_key_for(None), f"Audit trail of {GLOBAL_LABEL}")
        made = [record(ACTION, tenant=None, target=target, **fields)]
    elif filters.tenant:
        tenant = Tenant.objects.get(pk=require_tenant(scope, filters.tenant).id)
        target = ("audit.chain", chain_key_for(tenant.pk), f"Audit trail of {tenant.name}")
        made = [record(ACTION, tenant=tenant, target=target, **fields)]
    else:
        target = ("audit.chain", None, "Every audit trail they may read")
        made = record_about(actor, ACTION, target=target, **fields)
    return events.filter(pk__lt=min(event.pk for event in made))


def _named(filters: AuditFilters) -> dict[str, str]:
    """The filters that chose something, as text."""
    named = {}
    for field in dataclasses.fields(filters):
        value = getattr(filters, field.name)
        if value in ("", None):
            continue
        named[field.name] = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return named
