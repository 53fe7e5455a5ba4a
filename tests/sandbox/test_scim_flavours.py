"""The vendor flavours of the sandbox's SCIM apps, each discoverable from its own
/ServiceProviderConfig, /Schemas and /ResourceTypes."""

from __future__ import annotations

import pytest
from scim2_models import Error, Group, ListResponse, SearchRequest, User

from tests.sandbox.scim_support import make_app
from tests.sandbox.server import SandboxServer

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def test_full_declares_everything(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "full")
    with app.raw() as raw:
        config = raw.get("/ServiceProviderConfig").json()
        types = raw.get("/ResourceTypes").json()["Resources"]
        schema_ids = [s["id"] for s in raw.get("/Schemas").json()["Resources"]]
        enterprise = raw.get(f"/Schemas/{ENTERPRISE}").json()
        assert raw.get("/Schemas", params={"filter": 'id eq "x"'}).status_code == 403
    assert (config["patch"], config["etag"], config["filter"]) == (
        {"supported": True},
        {"supported": True},
        {"supported": True, "maxResults": 200},
    )
    assert [t["id"] for t in types] == ["User", "Group"]
    assert types[0]["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert len(schema_ids) == 3 and ENTERPRISE in schema_ids
    assert {a["name"] for a in enterprise["attributes"]} >= {
        "employeeNumber",
        "department",
        "organization",
        "manager",
    }


@pytest.mark.parametrize(
    "path",
    ["/ServiceProviderConfig", f"/Schemas/{USER_SCHEMA}", "/ResourceTypes/User", "/ResourceTypes"],
)
def test_a_filter_on_any_discovery_endpoint_is_403(
    sandbox_server: SandboxServer, path: str
) -> None:
    """RFC 7644 §4, after /ServiceProviderConfig, /Schemas and /ResourceTypes: "Query
    parameters described in Section 3.4.2, such as filtering, sorting, and pagination, SHALL
    be ignored. If a "filter" is provided, the service provider SHOULD respond with HTTP
    status code 403 (Forbidden) to ensure that clients cannot incorrectly assume that any
    matching conditions specified in a filter are true." The sandbox refused it on the two
    lists only, and answered the configuration and a single schema or type with 200."""
    app = make_app(sandbox_server, "full")
    with app.raw() as raw:
        refused = raw.get(path, params={"filter": 'id eq "Group"'})
        assert refused.status_code == 403, refused.text
        assert refused.json()["schemas"] == [ERROR_SCHEMA]
        assert raw.get(path, params={"sortBy": "id", "count": "1"}).status_code == 200


def _references(attributes: list[dict], path: str = "") -> dict[str, list | None]:
    found: dict[str, list | None] = {}
    for attribute in attributes:
        name = f"{path}{attribute['name']}"
        if attribute["type"] == "reference":
            found[name] = attribute.get("referenceTypes")
        found |= _references(attribute.get("subAttributes") or [], f"{name}.")
    return found


def test_every_reference_attribute_names_what_it_references(sandbox_server) -> None:
    """RFC 7643 §7, an attribute's `referenceTypes`: "A multi-valued array of JSON strings
    that indicate the SCIM resource types that may be referenced ... This attribute is only
    applicable for attributes that are of type "reference""; §8.7.1 gives photos.value
    `"referenceTypes": ["external"]`, as profileUrl. The sandbox's photos.value named none,
    so a client reading the schema could not tell a photo's URL from a resource's."""
    with make_app(sandbox_server, "full").raw() as raw:
        schemas = raw.get("/Schemas").json()["Resources"]
    references = {}
    for schema in schemas:
        references |= _references(schema["attributes"], f"{schema['name']}:")
    assert references["User:photos.value"] == ["external"]
    assert references["User:profileUrl"] == ["external"]
    assert all(references.values()), references


def test_zoom_has_no_groups_and_filters_only_on_user_name(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "zoom")
    client = app.client()
    with app.raw() as raw:
        assert [t["id"] for t in raw.get("/ResourceTypes").json()["Resources"]] == ["User"]
        assert raw.get("/ResourceTypes/Group").status_code == 404
        assert raw.get("/Groups").status_code == 404
        assert raw.get("/ServiceProviderConfig").json()["filter"]["maxResults"] == 100
        schema_ids = [s["id"] for s in raw.get("/Schemas").json()["Resources"]]
    assert schema_ids == ["urn:ietf:params:scim:schemas:core:2.0:User"]
    client.create(
        User(user_name="zed@fabrikam.example", emails=[{"value": "zed@fabrikam.example"}])
    )
    found = client.query(
        User, query_parameters=SearchRequest(filter='userName eq "ZED@fabrikam.example"')
    )
    assert [u.user_name for u in found.resources] == ["zed@fabrikam.example"]
    for text in (
        'emails eq "zed@fabrikam.example"',
        'emails[value eq "z"]',
        'userName eq "a" or active eq true',
    ):
        refused = client.query(
            User, query_parameters=SearchRequest(filter=text), raise_scim_errors=False
        )
        assert isinstance(refused, Error), text
        assert (refused.status, refused.scim_type) == (400, "invalidFilter"), text
    everyone = client.query(
        User, query_parameters=SearchRequest(filter="userName pr"), raise_scim_errors=False
    )
    assert (everyone.status, everyone.scim_type) == (400, "tooMany")


def test_zoom_pages_at_most_100(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "zoom")
    client = app.client()
    for i in range(105):
        client.create(User(user_name=f"u{i:03}@fabrikam.example"))
    page = client.query(User, query_parameters=SearchRequest(count=500))
    assert isinstance(page, ListResponse)
    assert (page.total_results, page.items_per_page, len(page.resources)) == (105, 100, 100)
    rest = client.query(User, query_parameters=SearchRequest(start_index=101, count=500))
    assert [u.user_name for u in rest.resources] == [
        f"u{i:03}@fabrikam.example" for i in range(100, 105)
    ]


def test_slack_groups_take_put_but_not_patch(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "slack")
    client = app.client()
    ann = client.create(User(user_name="ann@contoso.example"))
    group = client.create(Group(display_name="Engineering"))
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": ann.id}]}],
    }
    with app.raw() as raw:
        refused = raw.patch(f"/Groups/{group.id}", json=patch)
        assert refused.status_code == 501
        assert refused.json()["status"] == "501"
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Engineering",
            "members": [{"value": ann.id}],
        }
        assert raw.put(f"/Groups/{group.id}", json=body).status_code == 200
        user_patch = {**patch, "Operations": [{"op": "replace", "path": "title", "value": "x"}]}
        assert raw.patch(f"/Users/{ann.id}", json=user_patch).status_code == 200
        config = raw.get("/ServiceProviderConfig").json()
        default_page = raw.get("/Users").json()
    assert [m["value"] for m in app.state()["groups"][0]["members"]] == [ann.id]
    assert config["filter"]["maxResults"] == 1000 and config["etag"] == {"supported": False}
    assert default_page["itemsPerPage"] == 1


def test_slack_deactivates_a_user_it_is_asked_to_delete(sandbox_server: SandboxServer) -> None:
    """Slack's SCIM reference (docs.slack.dev/reference/scim-api/scim-api-2):
    `DELETE /Users/<id>` "Sets a Slack user to deactivated", `DELETE /Groups/<id>`
    "Permanently removes a group". The user is still read and listed, `active: false`, and
    its userName stays taken; the `full` flavour removes it (RFC 7644 §3.6). The sandbox
    removed Slack's user too, so a client never met the deactivated account that a person
    moved back into the app finds there."""
    slack, full = make_app(sandbox_server, "slack"), make_app(sandbox_server, "full")
    body = {"schemas": [USER_SCHEMA], "userName": "ann@contoso.example"}
    with slack.raw() as raw:
        ann = raw.post("/Users", json=body).json()
        group = raw.post(
            "/Groups",
            json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "E"},
        ).json()
        assert raw.delete(f"/Users/{ann['id']}").status_code == 204
        read = raw.get(f"/Users/{ann['id']}")
        listed = raw.get("/Users", params={"filter": 'userName eq "ann@contoso.example"'}).json()
        again = raw.post("/Users", json=body)
        assert raw.delete(f"/Groups/{group['id']}").status_code == 204
        group_gone = raw.get(f"/Groups/{group['id']}").status_code
    assert read.status_code == 200 and read.json()["active"] is False
    assert [u["id"] for u in listed["Resources"]] == [ann["id"]]
    assert again.status_code == 409 and again.json()["scimType"] == "uniqueness"
    assert group_gone == 404
    with full.raw() as raw:
        made = raw.post("/Users", json=body).json()
        assert raw.delete(f"/Users/{made['id']}").status_code == 204
        assert raw.get(f"/Users/{made['id']}").status_code == 404


def test_slack_serves_the_enterprise_extension(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "slack")
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "eve@contoso.example",
        ENTERPRISE: {"employeeNumber": "E-7", "department": "Sales", "manager": {"value": "m1"}},
    }
    with app.raw() as raw:
        created = raw.post("/Users", json=body).json()
        filtered = raw.get("/Users", params={"filter": f'{ENTERPRISE}:department eq "sales"'})
    assert created["schemas"] == body["schemas"]
    assert created[ENTERPRISE] == body[ENTERPRISE]
    assert [u["userName"] for u in filtered.json()["Resources"]] == ["eve@contoso.example"]


def test_an_unknown_path_is_404_and_a_wrong_method_405(sandbox_server: SandboxServer) -> None:
    """A 405 names the methods the path takes (RFC 9110 §15.5.6); HEAD is GET's answer
    without its body (RFC 9110 §9.3.2)."""
    app = make_app(sandbox_server, "full")
    with app.raw() as raw:
        assert raw.get("/Nothing").status_code == 404
        wrong = raw.delete("/Users")
        head = raw.head("/Users")
    assert wrong.status_code == 405
    assert wrong.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert wrong.headers["Allow"] == "GET, POST"
    assert head.status_code == 200 and head.content == b""


def test_bulk_is_501_as_service_provider_config_says_it_is_unsupported(
    sandbox_server: SandboxServer,
) -> None:
    """Bulk is OPTIONAL (RFC 7644 §3.7) and every flavour says `bulk.supported: false`: a
    POST to /Bulk is 501 Not Implemented (§3.12), in the SCIM error shape, not 404 as for a
    path that does not exist; another method on /Bulk is 405 naming POST."""
    app = make_app(sandbox_server, "full")
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": []}
    with app.raw() as raw:
        config = raw.get("/ServiceProviderConfig").json()
        bulk = raw.post("/Bulk", json=body)
        wrong = raw.get("/Bulk")
    assert config["bulk"]["supported"] is False
    assert bulk.status_code == 501, bulk.text
    assert bulk.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert bulk.json()["status"] == "501"
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"


@pytest.mark.parametrize("flavour", ["full", "slack", "zoom"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_me_is_501_not_a_missing_path(sandbox_server: SandboxServer, flavour, method) -> None:
    """No app here resolves the authenticated subject ("/Me", RFC 7644 §3.11): "A service
    provider that does NOT support this feature SHOULD respond with HTTP status code 501
    (Not Implemented)", in the SCIM error shape (§3.12), for every method; the sandbox
    answered 404 "no endpoint", as if the path were wrong. A POST to /Me (a create of the
    subject, §3.11) is 501 too; below /Me nothing is an endpoint (404)."""
    app = make_app(sandbox_server, flavour)
    with app.raw() as raw:
        me = raw.request(method, "/Me", json={} if method in ("PUT", "PATCH") else None)
        assert me.status_code == 501, me.text
        assert me.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert me.json()["status"] == "501"
        assert raw.post("/Me", json={}).status_code == 501
        assert raw.get("/Me/x").status_code == 404
