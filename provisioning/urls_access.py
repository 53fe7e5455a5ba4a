"""URLs of access requests and the client admin portal (included by provisioning/urls.py)."""

from django.urls import path

from provisioning import views_access

urlpatterns = [
    path(
        "tenants/<slug:tenant>/access/requests/<int:request_id>/",
        views_access.request_detail,
        name="access_request_detail",
    ),
    path(
        "tenants/<slug:tenant>/access/requests/<int:request_id>/decide/",
        views_access.request_decide,
        name="access_request_decide",
    ),
]
