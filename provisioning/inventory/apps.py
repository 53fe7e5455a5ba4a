from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "provisioning.inventory"
    label = "inventory"
    verbose_name = "Inventory"
