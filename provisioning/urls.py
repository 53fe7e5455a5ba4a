from django.urls import include, path

from provisioning import views, views_connections
from provisioning.api import problems
from provisioning.api.api import api

urlpatterns = [
    path("", include("provisioning.lifecycle.urls")),
    path("", include("provisioning.bulk.urls")),
    path("", include("provisioning.webhook.urls")),
    path("", include("provisioning.access.urls")),
    path("", include("provisioning.inventory.urls")),
    path("", include("provisioning.first_sign_in.urls")),
    path("", include("provisioning.alerts.urls")),
    path("", include("provisioning.scim.urls")),
    path("", include("provisioning.outbound.urls")),
    path("", include("provisioning.attribute_mappings.urls")),
    path("api/v1/", api.urls),
    path("api/v1/<path:rest>", problems.unknown_route, name="api_unknown"),
    path("", include("provisioning.api.urls")),
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/test/",
        views_connections.connection_test,
        name="connection_test",
    ),
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/release/",
        views.connection_release,
        name="connection_release",
    ),
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/hold/",
        views_connections.connection_hold,
        name="connection_hold",
    ),
    path("onboard/", views.onboard_start, name="onboard_start"),
    path("tenants/<slug:tenant>/onboard/", views.onboard, name="onboard"),
    path("tenants/<slug:tenant>/onboard/preview/", views.onboard_preview, name="onboard_preview"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job_retry"),
    path("jobs/<int:job_id>/choose/", views.job_choose, name="job_choose"),
    path(
        "tenants/<slug:tenant>/people/<int:identity_id>/",
        views.identity_detail,
        name="identity_detail",
    ),
    path(
        "tenants/<slug:tenant>/people/<int:identity_id>/directories/",
        views.identity_directories,
        name="identity_directories",
    ),
]
