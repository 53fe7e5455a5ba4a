"""URLs of the bulk pages (included by provisioning/urls.py)."""

from django.urls import path

from provisioning.bulk import views as views_bulk

BATCH = "tenants/<slug:tenant>/bulk/<int:batch_id>/"

urlpatterns = [
    path("tenants/<slug:tenant>/bulk/", views_bulk.batch_list, name="bulk_list"),
    path("tenants/<slug:tenant>/bulk/upload/", views_bulk.bulk_upload, name="bulk_upload"),
    path("tenants/<slug:tenant>/bulk/template.csv", views_bulk.bulk_template, name="bulk_template"),
    path(BATCH, views_bulk.batch_detail, name="bulk_batch"),
    path(f"{BATCH}start/", views_bulk.batch_start, name="bulk_start"),
    path(f"{BATCH}choose/", views_bulk.batch_choose, name="bulk_choose"),
    path(f"{BATCH}discard/", views_bulk.batch_discard, name="bulk_discard"),
    path(f"{BATCH}result.csv", views_bulk.batch_result, name="bulk_result"),
]
