from celery import shared_task

from provisioning.first_sign_in.deliveries import wipe_expired


@shared_task(name="provisioning.first_sign_in.tasks.wipe_expired_first_sign_ins")
def wipe_expired_first_sign_ins() -> int:
    """Beat: wipe the secrets whose one-time links expired unviewed."""
    return wipe_expired()
