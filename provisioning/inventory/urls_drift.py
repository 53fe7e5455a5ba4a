"""The drift report's routes (tenant pages): the report, and an operator's actions on an item
or on every open item of a person (POST)."""

from django.urls import path

from provisioning.inventory import views_drift

TENANT = "tenants/<slug:tenant>"

urlpatterns = [
    path(f"{TENANT}/drift/", views_drift.drift_report, name="drift_report"),
    path(
        f"{TENANT}/drift/<int:drift_id>/converge/",
        views_drift.drift_converge,
        name="drift_converge",
    ),
    path(f"{TENANT}/drift/<int:drift_id>/accept/", views_drift.drift_accept, name="drift_accept"),
    path(
        f"{TENANT}/drift/<int:drift_id>/dismiss/", views_drift.drift_dismiss, name="drift_dismiss"
    ),
    path(
        f"{TENANT}/drift/people/<int:person_id>/converge/",
        views_drift.drift_converge_person,
        name="drift_converge_person",
    ),
]
