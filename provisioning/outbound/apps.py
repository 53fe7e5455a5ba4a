from django.apps import AppConfig


class OutboundConfig(AppConfig):
    name = "provisioning.outbound"
    label = "outbound"
    verbose_name = "Outbound webhooks"

    def ready(self) -> None:
        # Registered from above: the engine and the events module never import this package.
        from provisioning.engine import outcomes
        from provisioning.events import publish
        from provisioning.outbound import deliveries, job_events

        outcomes.on_job_finished(job_events.job_finished)
        # The event's INSERT asks whether an endpoint could hear it: none, no read after.
        publish.subscribe(deliveries.on_event, hears=deliveries.sending_to)
