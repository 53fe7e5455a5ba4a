"""OpenAPI links (OpenAPI 3.1, 4.8.20 "Link Object"): where an answer names a resource, the
operation that reads or acts on it and the value to send, so a client, and schemathesis'
stateful phase, can chain the calls (an onboarding's 202 to its job, a person to their
accounts) without guessing which field is which id.

Paths are the API's own (below its root); operations are named by method and path and
written as the operationId ninja gives them when the document is built."""

from __future__ import annotations

from typing import Any

JOB = "$response.body#/job/id"  # a 202's job (JobAccepted)
ACCEPTED_TO_JOB = {
    "GetJob": ("get", "/jobs/{id}", {"id": JOB}),
    "CancelJob": ("post", "/jobs/{id}/cancel", {"id": JOB}),
}
PERSON_FROM_PATH = {"GetPerson": ("get", "/people/{id}", {"id": "$request.path.id"})}


def _person(value: str) -> dict:
    return {
        "GetPerson": ("get", "/people/{id}", {"id": value}),
        "GetPersonAccounts": ("get", "/people/{id}/accounts", {"id": value}),
        "ChangePerson": ("post", "/people/{id}/change", {"id": value}),
        "OffboardPerson": ("post", "/people/{id}/offboard", {"id": value}),
        "RestorePerson": ("post", "/people/{id}/restore", {"id": value}),
    }


def _tenant(value: str) -> dict:
    return {
        "GetTenant": ("get", "/tenants/{slug}", {"slug": value}),
        "ListRoleTemplates": ("get", "/tenants/{slug}/role-templates", {"slug": value}),
        "ListAccounts": ("get", "/tenants/{slug}/accounts", {"slug": value}),
        "Onboard": ("post", "/tenants/{slug}/people", {"slug": value}),
        "ListRequestables": ("get", "/tenants/{slug}/requestable-resources", {"slug": value}),
        "ListAccessRequests": ("get", "/tenants/{slug}/access-requests", {"slug": value}),
        "FileAccessRequest": ("post", "/tenants/{slug}/access-requests", {"slug": value}),
        # The report's routes are the reports app's, in this same document.
        "GetReport": ("get", "/tenants/{slug}/report", {"slug": value}),
        "GetReportCsv": ("get", "/tenants/{slug}/report.csv", {"slug": value}),
    }


def _job(value: str) -> dict:
    return {
        "GetJob": ("get", "/jobs/{id}", {"id": value}),
        "RetryJob": ("post", "/jobs/{id}/retry", {"id": value}),
        "CancelJob": ("post", "/jobs/{id}/cancel", {"id": value}),
    }


FIRST = "$response.body#/items/0"  # a page's first item
# (method, path, status) -> {link name: (method, path, parameters)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("get", "/tenants", "200"): {
        name: link
        for name, link in _tenant(f"{FIRST}/slug").items()
        if name in ("GetTenant", "GetReport")
    },
    ("get", "/tenants/{slug}", "200"): _tenant("$response.body#/slug"),
    ("get", "/people", "200"): {"GetPerson": _person(f"{FIRST}/id")["GetPerson"]},
    ("get", "/people/{id}", "200"): _person("$response.body#/id"),
    ("get", "/jobs", "200"): {"GetJob": _job(f"{FIRST}/id")["GetJob"]},
    ("get", "/jobs/{id}", "200"): _job("$response.body#/id")
    | {"GetPerson": _person("$response.body#/person_id")["GetPerson"]},
    ("post", "/tenants/{slug}/people", "202"): ACCEPTED_TO_JOB,
    ("post", "/people/{id}/change", "202"): ACCEPTED_TO_JOB | PERSON_FROM_PATH,
    ("post", "/people/{id}/offboard", "202"): ACCEPTED_TO_JOB | PERSON_FROM_PATH,
    ("post", "/people/{id}/restore", "202"): ACCEPTED_TO_JOB | PERSON_FROM_PATH,
    ("post", "/jobs/{id}/retry", "202"): ACCEPTED_TO_JOB,
    ("post", "/jobs/{id}/cancel", "202"): ACCEPTED_TO_JOB,
    ("post", "/tenants/{slug}/access-requests", "201"): {
        "Decide": ("post", "/access-requests/{id}/decision", {"id": "$response.body#/id"}),
        "GetPerson": _person("$response.body#/person")["GetPerson"],
        "ListAccessRequests": _tenant("$request.path.slug")["ListAccessRequests"],
    },
}


def install(api) -> None:
    """Write LINKS into `api`'s OpenAPI document whenever it is built."""
    build = api.get_openapi_schema

    def schema_with_links(*args, **kwargs) -> dict[str, Any]:
        schema = build(*args, **kwargs)
        root = (kwargs.get("path_prefix") or api.get_root_path({})).rstrip("/")
        paths = schema.get("paths", {})
        for (method, path, status), links in LINKS.items():
            responses = paths[root + path][method]["responses"]
            response = responses[int(status)] if int(status) in responses else responses[status]
            response["links"] = {
                name: {
                    "operationId": paths[root + to][to_method]["operationId"],
                    "parameters": parameters,
                }
                for name, (to_method, to, parameters) in links.items()
            }
        return schema

    api.get_openapi_schema = schema_with_links
