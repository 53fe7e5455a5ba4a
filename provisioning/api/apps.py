from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "provisioning.api"
    label = "api"
    verbose_name = "REST API"
