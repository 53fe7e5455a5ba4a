"""The inventory's pages: every account (people), scope, adoption, drift, stale accounts and
the inventory reads themselves; each part keeps its routes beside its views."""

from django.urls import include, path

urlpatterns = [
    path("", include("provisioning.inventory.urls_people")),
    path("", include("provisioning.inventory.urls_scope")),
    path("", include("provisioning.inventory.urls_adopt")),
    path("", include("provisioning.inventory.urls_drift")),
    path("", include("provisioning.inventory.urls_stale")),
    path("", include("provisioning.inventory.urls_reads")),
]
