"""A tenant's clock: its time zone, today, and wall-clock times made aware in that zone."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.utils import timezone

from tenants.models import Tenant


def tenant_zone(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.time_zone)


def tenant_datetime(tenant: Tenant, local: datetime) -> datetime:
    """An aware datetime from a wall-clock time in the tenant's time zone."""
    if timezone.is_aware(local):
        return local
    return local.replace(tzinfo=tenant_zone(tenant))


def start_of_day(tenant: Tenant, day: date) -> datetime:
    return tenant_datetime(tenant, datetime.combine(day, time.min))


def tenant_today(tenant: Tenant, now: datetime | None = None) -> date:
    return tenant_date(tenant, now or timezone.now())


def tenant_date(tenant: Tenant, moment: datetime) -> date:
    """The tenant's calendar day at `moment`."""
    return moment.astimezone(tenant_zone(tenant)).date()
