"""Each tenant's audit retention, applied by beat: older events go behind a signed checkpoint."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from portal.audit.events import record
from portal.audit.models import GLOBAL_CHAIN, chain_key_for
from portal.audit.retention import Pruned, prune_chain
from tenants.models import Tenant


def apply_retention(now: datetime | None = None) -> list[Pruned]:
    now = now or timezone.now()
    done = []
    for tenant in Tenant.objects.all():
        cutoff = now - timedelta(days=tenant.audit_retention_days)
        done.append(_prune(chain_key_for(tenant.pk), cutoff, tenant))
    cutoff = now - timedelta(days=settings.AUDIT_GLOBAL_RETENTION_DAYS)
    done.append(_prune(GLOBAL_CHAIN, cutoff, None))
    return [p for p in done if p.removed]


def _prune(chain_key: str, cutoff: datetime, tenant: Tenant | None) -> Pruned:
    pruned = prune_chain(chain_key, cutoff)
    if pruned.removed:
        record(
            "audit.prune",
            actor="system",
            tenant=tenant,
            target=("audit_checkpoint", pruned.checkpoint.pk, f"{chain_key} checkpoint"),
            after={
                "removed": pruned.removed,
                "older_than": cutoff.isoformat(),
                "chain_now_starts_after_seq": pruned.checkpoint.seq,
            },
        )
    return pruned
