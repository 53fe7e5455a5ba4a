"""Entra enterprise apps: every service principal, read through all its pages, with the app
roles a user may hold (enabled, "User" among `allowedMemberTypes`)."""

from __future__ import annotations

import json
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.service_principals.service_principals_request_builder import (
    ServicePrincipalsRequestBuilder,
)

from provisioning.connectors.app_roles import choose_user_role
from provisioning.connectors.base import Resource
from provisioning.connectors.errors import PermanentError

PAGE = 999  # the most Graph gives a page of directory objects


async def read_apps(client: GraphServiceClient) -> list[Resource]:
    """Each page as JSON, not as the SDK's ServicePrincipal models: parsing one costs ~15 ms
    of CPU (its deserializers import some 2,400 model classes on every call), 40 ms on a
    loaded machine: most of a minute for a directory of a thousand apps."""
    query = ServicePrincipalsRequestBuilder.ServicePrincipalsRequestBuilderGetQueryParameters(
        select=["id", "displayName", "appRoles"], top=PAGE
    )
    sps = client.service_principals
    info = sps.to_get_request_information(RequestConfiguration(query_parameters=query))
    found: list[Resource] = []
    while info is not None:
        raw = await sps.request_adapter.send_primitive_async(info, "bytes", {"XXX": ODataError})
        page = json.loads(raw) if raw else {}
        found += [app_resource(sp) for sp in page.get("value") or []]
        link = page.get("@odata.nextLink")
        info = sps.with_url(link).to_get_request_information() if link else None
    return found


def app_resource(sp: dict[str, Any]) -> Resource:
    """A service principal as Graph sends it (its id, displayName and appRoles)."""
    roles = sp.get("appRoles") or []
    return Resource(
        str(sp["id"]),
        sp.get("displayName") or "",
        {
            "roles": [str(r["id"]) for r in roles],
            "user_roles": [_role(r) for r in roles if _for_users(r)],
        },
    )


def _for_users(role: dict[str, Any]) -> bool:
    return role.get("isEnabled") is not False and "User" in (role.get("allowedMemberTypes") or [])


def _role(role: dict[str, Any]) -> dict:
    value = role.get("value") or ""
    return {"id": str(role["id"]), "name": role.get("displayName") or value, "value": value}


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
