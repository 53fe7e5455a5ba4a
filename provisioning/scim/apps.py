from django.apps import AppConfig


class ScimConfig(AppConfig):
    name = "provisioning.scim"
    label = "scim"
    verbose_name = "SCIM provisioning (inbound)"

    def ready(self) -> None:
        from portal import deactivation
        from provisioning.scim import rules, tokens
        from tenants import services as tenant_services

        deactivation.on_withdraw(tokens.revoke_issued_by)
        tenant_services.on_template_deleted(rules.template_deleted)
