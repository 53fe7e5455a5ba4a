"""The SCIM endpoint (bearer token, no session) and the MSP admins' pages of it."""

from django.urls import path

from provisioning.scim import endpoint, views

SCIM = "scim/v2/<str:tenant>/"

urlpatterns = [
    path(
        SCIM + "ServiceProviderConfig",
        endpoint.service_provider_config,
        name="scim_service_provider_config",
    ),
    path(SCIM + "Schemas", endpoint.schemas, name="scim_schemas"),
    path(SCIM + "Schemas/<str:schema_id>", endpoint.schema, name="scim_schema"),
    path(SCIM + "ResourceTypes", endpoint.resource_types, name="scim_resource_types"),
    path(SCIM + "ResourceTypes/<str:name>", endpoint.resource_type, name="scim_resource_type"),
    path(SCIM + "Users", endpoint.users, name="scim_users"),
    path(SCIM + "Users/.search", endpoint.users_search, name="scim_users_search"),
    path(SCIM + "Users/<str:user_id>", endpoint.user, name="scim_user"),
    path(SCIM + "Groups", endpoint.groups, name="scim_groups"),
    path(SCIM + "Groups/.search", endpoint.groups_search, name="scim_groups_search"),
    path(SCIM + "Groups/<str:group_id>", endpoint.group, name="scim_group"),
    path(SCIM + "<path:rest>", endpoint.unknown, name="scim_unknown"),
    # The root, with and without its slash: a SCIM 404 too, not the portal's HTML page.
    path(SCIM, endpoint.unknown, name="scim_root"),
    path(SCIM.rstrip("/"), endpoint.unknown, name="scim_root_unslashed"),
    path("tenants/<slug:tenant>/scim/", views.scim_settings, name="scim_settings"),
    path(
        "tenants/<slug:tenant>/scim/tokens/<int:token_id>/revoke/",
        views.token_revoke,
        name="scim_token_revoke",
    ),
    path("tenants/<slug:tenant>/scim/rules/", views.rule_add, name="scim_rule_add"),
    path(
        "tenants/<slug:tenant>/scim/rules/<int:rule_id>/delete/",
        views.rule_delete,
        name="scim_rule_delete",
    ),
    path(
        "tenants/<slug:tenant>/scim/rules/<int:rule_id>/move/",
        views.rule_move,
        name="scim_rule_move",
    ),
]
