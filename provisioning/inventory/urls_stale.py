"""The stale accounts report's routes (tenant pages)."""

from django.urls import path

from provisioning.inventory import views_stale

TENANT = "tenants/<slug:tenant>"

urlpatterns = [
    path(f"{TENANT}/stale/", views_stale.stale_report, name="stale_report"),
    path(f"{TENANT}/stale.csv", views_stale.stale_csv, name="stale_csv"),
]
