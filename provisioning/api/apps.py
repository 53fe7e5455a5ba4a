from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "provisioning.api"
    label = "api"
    verbose_name = "REST API"

    def ready(self) -> None:
        from portal import deactivation
        from provisioning.api import tokens

        deactivation.on_withdraw(tokens.revoke_all_of)
