"""Every route of the API's OpenAPI schema, as every role of tenant B (and an MSP admin's
token narrowed to B), aimed at tenant A's objects: 404 (or 403), never A's data, never a
change to A. The crawl reads the schema, so routes added later are crawled too; a path
parameter it cannot fill fails the test (add it to PATH_OBJECTS)."""

import json

import pytest
from django.test import Client

from portal.models import Role
from tests.test_isolation_crawl import access_request_of, markers_of, snapshot_of_a

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

# (the path's first segment, the parameter) -> tenant A's object it names.
PATH_OBJECTS = {
    ("tenants", "slug"): lambda world: world.tenant.slug,
    ("people", "id"): lambda world: world.identity.pk,
    ("jobs", "id"): lambda world: world.job.pk,
    ("access-requests", "id"): lambda world: access_request_of(world).pk,
}
# Query parameters that name one of tenant A's objects.
QUERY_OBJECTS = {
    "tenant": lambda world: world.tenant.slug,
    "person": lambda world: world.identity.pk,
}


def schema() -> dict:
    return Client().get("/api/v1/openapi.json").json()


def aimed_at(world, path: str, operation: dict) -> str | None:
    """The path with tenant A's objects in it (None: the route names no object)."""
    first = path.removeprefix("/api/v1/").split("/")[0]
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
    for name in names:
        fill = PATH_OBJECTS.get((first, name))
        if fill is None:
            pytest.fail(f"The API crawl cannot fill {{{name}}} of {path}: add it to PATH_OBJECTS.")
        path = path.replace(f"{{{name}}}", str(fill(world)))
    return path if names else None


def callers_of_b(bravo, msp_admin) -> dict[str, ApiClient]:
    callers = {role: ApiClient(token_for(bravo.people[role])) for role in bravo.people}
    callers["msp admin, token for B only"] = ApiClient(token_for(msp_admin, tenants=[bravo.tenant]))
    return callers


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


def test_the_crawl_covers_the_api(alpha):
    paths = schema()["paths"]
    assert {"/api/v1/people/{id}", "/api/v1/jobs/{id}", "/api/v1/tenants/{slug}/report"} <= set(
        paths
    )


def test_tenant_b_never_reads_or_changes_tenant_a_through_the_api(alpha, bravo, msp_admin):
    before = snapshot_of_a(alpha)
    markers = markers_of(alpha)
    crawled = 0
    for path, operations in schema()["paths"].items():
        for method, operation in operations.items():
            url = aimed_at(alpha, path, operation)
            queries = [
                p["name"]
                for p in operation.get("parameters", [])
                if p["in"] == "query" and p["name"] in QUERY_OBJECTS
            ]
            for who, caller in callers_of_b(bravo, msp_admin).items():
                if url is not None:
                    if method == "get":
                        response = caller.get(url)
                        allowed = (403, 404)
                    else:
                        # An empty body may be refused (422) before the object is looked
                        # up: that says nothing of A, and the snapshot shows nothing changed.
                        response = caller.post(url, {}, key=f"crawl-{who}-{url}")
                        allowed = (403, 404, 422)
                    where = f"{who}: {method.upper()} {url} -> {response.status_code}"
                    assert response.status_code in allowed, where
                    crawled += 1
                elif method == "get":
                    for name in queries:
                        response = caller.get(path, **{name: QUERY_OBJECTS[name](alpha)})
                        where = f"{who}: GET {path}?{name}=A -> {response.status_code}"
                        assert response.status_code in (200, 403, 404), where
                        if response.status_code == 200 and "json" in response["Content-Type"]:
                            assert json.loads(body_of(response))["items"] == [], where
                        for marker in markers:
                            assert marker not in body_of(response), f"{where} shows {marker!r}"
                        crawled += 1
                    response = caller.get(path)
                    where = f"{who}: GET {path} -> {response.status_code}"
                else:
                    response = caller.post(path, {}, key=f"crawl-{who}-{path}")
                    where = f"{who}: POST {path} -> {response.status_code}"
                    assert response.status_code >= 400, where
                for marker in markers:
                    assert marker not in body_of(response), f"{where} shows {marker!r}"
    assert crawled > 20
    assert snapshot_of_a(alpha) == before, "a request of tenant B changed tenant A"


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_tenant_a_reads_its_own_objects_on_the_same_routes(alpha, bravo, role):
    """The other side of the crawl: the same URLs answer A's own people (so the 404s above
    are about the tenant, not broken URLs)."""
    client = ApiClient(token_for(alpha.people[role]))
    for path, operations in schema()["paths"].items():
        url = aimed_at(alpha, path, operations.get("get", {})) if "get" in operations else None
        if url is not None:
            assert client.get(url).status_code == 200, url
