"""A partial profile update that can clear a property.

Okta's "Update a user" (`POST /api/v1/users/{id}`) has partial semantics: only the
properties in the body change ("Use the `POST` method for partial updates. Unspecified
properties are set to null with `PUT`", okta SDK `UserApi.update_user`), and a property
given as null is cleared (the base profile's properties are nullable in the management
OpenAPI; Okta Workflows' Update User card clears a field left blank with partial
semantics, "Pass Empty Values"). okta 3.4.6's `update_user` cannot send that null: its
request executor drops every empty value from a body (`RequestExecutor.clear_empty_params`,
`keep_empty_params=False` in the generated call). So this is that call, through the SDK's
own client and executor, with the nulls kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from okta.client import Client


async def update(okta: Client, user_id: str, profile: dict):
    """POST the partial update `profile` (a None clears that property), answered as the SDK
    answers its calls: (None, response, error)."""
    method, url, headers, body, _ = okta.param_serialize(
        method="POST",
        resource_path="/api/v1/users/{id}",
        path_params={"id": user_id},
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        body={"profile": profile},
        auth_settings=["apiToken", "oauth2"],
    )
    executor = okta.get_request_executor()
    request, error = await executor.create_request(
        method, url, body, headers, None, keep_empty_params=True
    )
    if error:
        return None, None, error
    response, _, error = await executor.execute(request, None)
    return None, response, error
