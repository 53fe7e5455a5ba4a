"""Entra enterprise apps: every service principal, read through all its pages, with the app
roles a user may hold (enabled, "User" among `allowedMemberTypes`)."""

from __future__ import annotations

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.app_role import AppRole
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)

from provisioning.connectors.app_roles import choose_user_role
from provisioning.connectors.base import Resource
from provisioning.connectors.errors import PermanentError

PAGE = 999  # the most Graph gives a page of directory objects


async def read_apps(client: GraphServiceClient) -> list[Resource]:
    query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
        select=["id", "displayName", "appRoles"], top=PAGE
    )
    page = await client.service_principals.get(RequestConfiguration(query_parameters=query))
    found: list[Resource] = []
    while page is not None:
        found += [app_resource(sp) for sp in page.value or []]
        link = page.odata_next_link
        page = await client.service_principals.with_url(link).get() if link else None
    return found


def app_resource(sp: ServicePrincipal) -> Resource:
    roles = sp.app_roles or []
    return Resource(
        str(sp.id),
        sp.display_name or "",
        {
            "roles": [str(r.id) for r in roles],
            "user_roles": [_role(r) for r in roles if _for_users(r)],
        },
    )


def _for_users(role: AppRole) -> bool:
    return role.is_enabled is not False and "User" in (role.allowed_member_types or [])


def _role(role: AppRole) -> dict:
    value = role.value or ""
    return {"id": str(role.id), "name": role.display_name or value, "value": value}


def role_for(apps: list[Resource], app_id: str, role_id: str | None) -> str:
    """The app role to assign: the one the step carries (chosen at planning), else the choice
    by member type; PermanentError when the app has several roles for users."""
    if role_id:
        return role_id
    app = next((a for a in apps if a.id == app_id), None)
    if app is None:
        raise PermanentError(f"No enterprise app {app_id} in this directory.")
    choice = choose_user_role(app)
    if choice.role_id is None:
        raise PermanentError(choice.problem or f"“{app.name}” defines no app roles.")
    return choice.role_id
