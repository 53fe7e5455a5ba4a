from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from portal.audit.people import on_person_tenants
        from tenants.access import bound_tenants

        # Events about a client admin (or an account manager of some tenants) go to their
        # tenants' trails: the portal, the layer below, cannot know who is bound where.
        on_person_tenants(bound_tenants)
