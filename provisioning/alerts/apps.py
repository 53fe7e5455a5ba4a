from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "provisioning.alerts"
    label = "alerts"
    verbose_name = "Alert e-mails (failed jobs, quarantines, expiring credentials)"

    def ready(self) -> None:
        from provisioning.alerts.subscriber import on_event
        from provisioning.events.publish import subscribe

        subscribe(on_event)
