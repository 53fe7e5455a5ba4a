"""The webhook pages: the MSP's own endpoints under /settings/webhooks/, a tenant's under
/tenants/<slug>/webhooks/ (included by provisioning/urls.py)."""

from django.urls import path

from provisioning.outbound import views

PAGES = [
    ("", views.endpoint_list, "list"),
    ("new/", views.endpoint_create, "create"),
    ("<int:endpoint_id>/", views.endpoint_detail, "endpoint"),
    ("<int:endpoint_id>/edit/", views.endpoint_edit, "edit"),
    ("<int:endpoint_id>/rotate/", views.endpoint_rotate, "rotate"),
    ("<int:endpoint_id>/test/", views.endpoint_test, "test"),
    ("<int:endpoint_id>/switch-on/", views.endpoint_switch_on, "switch_on"),
    ("<int:endpoint_id>/delete/", views.endpoint_delete, "delete"),
    (
        "<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/",
        views.delivery_redeliver,
        "redeliver",
    ),
]

urlpatterns = [
    *(
        path(f"settings/webhooks/{route}", view, name=f"outbound_msp_{name}")
        for route, view, name in PAGES
    ),
    *(
        path(f"tenants/<slug:tenant>/webhooks/{route}", view, name=f"outbound_tenant_{name}")
        for route, view, name in PAGES
    ),
]
