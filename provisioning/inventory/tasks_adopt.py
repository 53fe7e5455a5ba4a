"""Bulk adoption on a worker (imported by tasks.py, which Celery's autodiscovery finds)."""

from __future__ import annotations

from celery import shared_task
from django.contrib.auth import get_user_model

from provisioning.inventory import adoption_bulk
from tenants.models import Tenant


@shared_task(ignore_result=True, acks_late=True)
def adopt_people(tenant_id: int, person_ids: list[int], user_id: int | None, reason: str = ""):
    """Adopt these people of the tenant (safe to run twice: the managed are refused)."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return "gone"
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    result = adoption_bulk.adopt_many(tenant, person_ids, user or "system", reason=reason)
    return f"adopted {result.adopted}, refused {sum(result.refused.values())}"
