"""The alert tasks: one event's e-mails (enqueued after its commit), the daily digest and the
daily credential-expiry check (run by beat). Each is safe to run twice."""

from __future__ import annotations

from celery import shared_task

from provisioning.alerts import expiry, sending


@shared_task(ignore_result=True)
def send_event_alerts(event_id: str) -> int:
    return sending.send_event(event_id)


@shared_task(ignore_result=True)
def send_daily_digests() -> int:
    return sending.send_digests()


@shared_task(ignore_result=True)
def check_credential_expiry() -> int:
    return expiry.check_all()
