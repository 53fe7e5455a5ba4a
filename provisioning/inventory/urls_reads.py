from django.urls import path

from provisioning.inventory import views_reads

urlpatterns = [
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/inventory/",
        views_reads.inventory_status,
        name="inventory_status",
    ),
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/inventory/refresh/",
        views_reads.inventory_refresh,
        name="inventory_refresh",
    ),
]
