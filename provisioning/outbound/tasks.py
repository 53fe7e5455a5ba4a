from celery import shared_task

from provisioning.outbound import deliveries


@shared_task(name="provisioning.outbound.tasks.deliver", acks_late=True, ignore_result=True)
def deliver(delivery_id: int) -> None:
    deliveries.attempt(delivery_id)


@shared_task(name="provisioning.outbound.tasks.send_due_deliveries", ignore_result=True)
def send_due_deliveries() -> int:
    due = deliveries.due_ids()
    for delivery_id in due:
        deliveries.enqueue(delivery_id)
    return len(due)
