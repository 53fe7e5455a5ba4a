from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "provisioning.scim"
    label = "scim"
    verbose_name = "SCIM provisioning (inbound)"
