from importlib import import_module

from django.apps import AppConfig
from django.conf import settings

# A feature's own models live in its package. provisioning/models.py is the bottom layer and
# must not import a feature, so they are imported here, while Django imports the app's models
# (their app label is still "provisioning": the app whose name their module starts with).
FEATURE_MODELS = ("provisioning.webhook.models",)


class ProvisioningConfig(AppConfig):
    name = "provisioning"

    def import_models(self) -> None:
        super().import_models()
        for module in FEATURE_MODELS:
            import_module(module)

    def ready(self) -> None:
        # Imported here, once the models are loaded: the features register what must happen
        # after a job, so that the engine below them never imports them.
        from provisioning import directory_lists
        from provisioning.access import services as access_requests
        from provisioning.engine import outcomes
        from provisioning.lifecycle import services as lifecycle
        from tenants import services as tenant_services

        directory_lists.connect()
        outcomes.on_job_finished(access_requests.after_job)
        outcomes.on_job_finished(lifecycle.after_job)
        tenant_services.on_template_changed(lifecycle.template_changed)
        tenant_services.on_mass_change(lifecycle.hold_template_change)
        tenant_services.on_count_holders(lambda template: lifecycle.holders(template).count())
        if settings.WARM_CONNECTORS:
            from provisioning.connectors import factory

            factory.warm_in_background()
