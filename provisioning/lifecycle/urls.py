"""URLs of the lifecycle pages (included by provisioning/urls.py)."""

from django.urls import path

from provisioning.lifecycle import views

PERSON = "tenants/<slug:tenant>/people/<int:identity_id>"

urlpatterns = [
    path(f"{PERSON}/offboard/", views.offboard, name="offboard"),
    path(f"{PERSON}/offboard/preview/", views.offboard_preview, name="offboard_preview"),
    path(f"{PERSON}/change/", views.change, name="identity_change"),
    path(f"{PERSON}/change/preview/", views.change_preview, name="identity_change_preview"),
    path(f"{PERSON}/restore/", views.restore, name="identity_restore"),
    path(
        f"{PERSON}/directories/<int:connection_id>/add/",
        views.add_directory,
        name="identity_add_directory",
    ),
    path("tenants/<slug:tenant>/lifecycle/", views.lifecycle_settings, name="lifecycle_settings"),
    path("tenants/<slug:tenant>/schedule/", views.tenant_schedule, name="tenant_schedule"),
    path("schedule/", views.schedule, name="schedule"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path(
        "tenants/<slug:tenant>/batches/<int:batch_id>/confirm/",
        views.batch_confirm,
        name="batch_confirm",
    ),
    path(
        "tenants/<slug:tenant>/batches/<int:batch_id>/cancel/",
        views.batch_cancel,
        name="batch_cancel",
    ),
]
