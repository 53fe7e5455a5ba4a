"""What follows every inventory read that got to its end: the tenant's accounts are scoped,
matched to people, and compared with what the portal wants (drift), in that order, since
each step reads what the one before wrote."""

from __future__ import annotations

from provisioning.inventory import drift, matching, scope
from tenants.models import DirectoryConnection


def after_read(connection: DirectoryConnection) -> None:
    """Scope, matching and drift of the connection's tenant, after a successful read."""
    tenant = connection.tenant
    scope.apply_scope(tenant)
    matching.rematch(tenant)
    drift.detect(tenant)
