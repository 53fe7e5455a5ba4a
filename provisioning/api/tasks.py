from celery import shared_task

from provisioning.api import idempotency


@shared_task(name="provisioning.api.tasks.forget_old_idempotent_responses", ignore_result=True)
def forget_old_idempotent_responses() -> int:
    return idempotency.forget_old()
