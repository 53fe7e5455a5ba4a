from celery import shared_task

from provisioning.events import retention


@shared_task(name="provisioning.events.tasks.forget_old_events", ignore_result=True)
def forget_old_events() -> int:
    return retention.forget_old_events()
