from django.urls import path

from provisioning import views_connections

urlpatterns = [
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/test/",
        views_connections.connection_test,
        name="connection_test",
    ),
]
