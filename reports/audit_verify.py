""" "Verify integrity": check one tenant's chain (or the MSP-wide one) and record that it was."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from portal.audit.events import record
from portal.audit.models import chain_key_for
from portal.audit.verify import verify_all, verify_chain
from portal.models import Role
from reports.audit_forms import GLOBAL_LABEL
from reports.audit_queries import GLOBAL
from tenants import access


@dataclass(frozen=True)
class Verification:
    trail: str  # whose trail: a tenant's name or the MSP-wide trail
    events_checked: int
    first_break: str  # "" when intact

    @property
    def ok(self) -> bool:
        return not self.first_break


def verify_integrity(actor, tenant_slug: str, *, http_request: HttpRequest | None = None):
    """Walk the chain of ``tenant_slug`` (or GLOBAL); MSP admins only (403), else 404.

    The check itself is recorded as "audit.verify" on the chain it checked, with its outcome.
    """
    access.require_role(actor, (Role.MSP_ADMIN,))
    if tenant_slug == GLOBAL:
        tenant, trail = None, GLOBAL_LABEL
        report = verify_chain(chain_key_for(None))
        checked, breaks = report.events_checked, [report.broken] if report.broken else []
    else:
        tenant = access.get_tenant_for(actor, tenant_slug, (Role.MSP_ADMIN,))
        trail = tenant.name
        report = verify_all(tenant.pk)
        checked, breaks = report.events_checked, report.breaks
    outcome = Verification(trail, checked, str(breaks[0]) if breaks else "")
    record(
        "audit.verify",
        actor=actor,
        tenant=tenant,
        target=("audit.chain", chain_key_for(tenant and tenant.pk), f"Audit trail of {trail}"),
        after={"events_checked": checked, "intact": outcome.ok, "first_break": outcome.first_break},
        result="success" if outcome.ok else "failure",
        request=http_request,
    )
    return outcome
