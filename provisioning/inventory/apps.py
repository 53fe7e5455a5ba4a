from django.apps import AppConfig
from django.db.models.signals import post_save


class InventoryConfig(AppConfig):
    name = "provisioning.inventory"
    label = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from provisioning.inventory import matching
        from provisioning.models import DirectoryAccount, Identity

        post_save.connect(matching.identity_saved, sender=Identity, dispatch_uid="inv-person")
        post_save.connect(
            matching.directory_account_saved, sender=DirectoryAccount, dispatch_uid="inv-link"
        )
