from django.urls import path

from provisioning.attribute_mappings import views

urlpatterns = [
    path("tenants/<slug:tenant>/mappings/", views.mapping_list, name="mapping_list"),
    path(
        "tenants/<slug:tenant>/mappings/<str:target>/preview/",
        views.mapping_preview,
        name="mapping_preview",
    ),
    path(
        "tenants/<slug:tenant>/mappings/<str:target>/<str:attribute>/",
        views.mapping_edit,
        name="mapping_edit",
    ),
    path(
        "tenants/<slug:tenant>/mappings/<str:target>/<str:attribute>/reset/",
        views.mapping_reset,
        name="mapping_reset",
    ),
]
