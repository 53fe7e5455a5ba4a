from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self) -> None:
        # provisioning may not import reports: the report and audit endpoints join its API
        # from here, once (ready may run again in tests).
        from provisioning import demo_accounts
        from provisioning.api.api import api
        from reports.api import router
        from reports.tasks import read_licences_again

        if all(mounted is not router for _prefix, mounted in api._routers):
            api.add_router("", router)
        demo_accounts.on_accounts_made(read_licences_again)
