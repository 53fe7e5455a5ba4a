"""Celery tasks of the tenants app."""

from celery import shared_task


@shared_task(ignore_result=True)
def apply_audit_retention() -> int:
    """Prune every chain past its tenant's retention; how many chains were pruned."""
    from tenants.retention import apply_retention

    return len(apply_retention())
