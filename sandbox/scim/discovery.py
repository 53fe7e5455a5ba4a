"""Discovery (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes, /Schemas, each telling
the truth about the app's flavour."""

from __future__ import annotations

from sandbox.scim.errors import ScimError
from sandbox.scim.pipeline import Call, Reply
from sandbox.scim.schema import (
    ENTERPRISE,
    GROUP,
    LIST_RESPONSE,
    RESOURCE_TYPE_SCHEMA,
    SPC_SCHEMA,
    USER,
    Schema,
)


def service_provider_config(call: Call) -> Reply:
    _refuse_filter(call)
    flavour = call.app.flavour
    return Reply(
        200,
        {
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": flavour.max_results},
            "changePassword": {"supported": flavour.change_password},
            "sort": {"supported": False},
            "etag": {"supported": flavour.etag},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "OAuth Bearer Token",
                    "description": "A bearer token made when the app was created.",
                    "primary": True,
                }
            ],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": f"{call.base}/ServiceProviderConfig",
            },
        },
    )


def _schemas(call: Call) -> list[Schema]:
    flavour = call.app.flavour
    return [
        USER,
        *([ENTERPRISE] if flavour.enterprise else []),
        *([GROUP] if flavour.groups else []),
    ]


def _resource_types(call: Call) -> list[dict]:
    flavour = call.app.flavour
    user = {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": USER.id,
        "meta": {"resourceType": "ResourceType", "location": f"{call.base}/ResourceTypes/User"},
    }
    if flavour.enterprise:
        user["schemaExtensions"] = [{"schema": ENTERPRISE.id, "required": False}]
    group = {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "Group",
        "schema": GROUP.id,
        "meta": {"resourceType": "ResourceType", "location": f"{call.base}/ResourceTypes/Group"},
    }
    return [user, group] if flavour.groups else [user]


def _refuse_filter(call: Call) -> None:
    """RFC 7644 §4, after the three endpoints (the configuration, a list, or a single schema
    or resource type): query parameters "SHALL be ignored. If a "filter" is provided, the
    service provider SHOULD respond with HTTP status code 403 (Forbidden)", so that a client
    does not take an unfiltered answer for a filtered one."""
    if "filter" in call.query:
        raise ScimError(403, "discovery endpoints take no filter")


def _list(call: Call, resources: list[dict]) -> dict:
    _refuse_filter(call)
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def schemas(call: Call) -> Reply:
    return Reply(200, _list(call, [s.to_scim(call.base) for s in _schemas(call)]))


def schema(call: Call) -> Reply:
    _refuse_filter(call)
    wanted = call.param("id").lower()
    found = next((s for s in _schemas(call) if s.id.lower() == wanted), None)
    if found is None:
        raise ScimError(404, f"no schema {call.param('id')!r}")
    return Reply(200, found.to_scim(call.base))


def resource_types(call: Call) -> Reply:
    return Reply(200, _list(call, _resource_types(call)))


def resource_type(call: Call) -> Reply:
    _refuse_filter(call)
    found = next((r for r in _resource_types(call) if r["id"] == call.param("id")), None)
    if found is None:
        raise ScimError(404, f"no resource type {call.param('id')!r}")
    return Reply(200, found)
