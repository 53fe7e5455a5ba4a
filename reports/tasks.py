"""Celery tasks of the reports: they take primitive ids and are safe to run twice."""

from celery import shared_task


@shared_task(ignore_result=True)
def refresh_licence_snapshots(tenant_id: int | None = None) -> int:
    """Licence seats of every Entra directory (run by beat), or of one tenant's."""
    from reports import licences
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None
    if tenant_id and tenant is None:
        return 0
    return len(licences.refresh(tenant))


def read_licences_again() -> None:
    """The demo's history accounts are made (`provisioning.demo_accounts.on_accounts_made`):
    the first reading, taken as the history was seeded, did not count the seats they took, and
    the dashboard and the report showed it for the 15 minutes until beat's next one."""
    refresh_licence_snapshots.delay()
