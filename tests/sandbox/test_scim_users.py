"""SCIM apps in the sandbox: the control API, bearer auth, Users CRUD, filter on userName,
paging and the RFC 7644 §3.12 error shape, as scim2-client sees them."""

from __future__ import annotations

import pytest
from scim2_models import Email, Error, ListResponse, Name, NotFoundException, SearchRequest, User

from tests.sandbox.scim_support import App, make_app
from tests.sandbox.server import SandboxServer


def test_control_api_creates_apps_and_refuses_a_taken_slug(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server)
    assert app.base_url == f"{sandbox_server.url}/scim/{app.slug}/v2"
    with sandbox_server.control() as control:
        again = control.post(
            "/_sandbox/scim-apps", json={"slug": app.slug, "name": "x", "flavour": "full"}
        )
        assert again.status_code == 409
        bad = control.post("/_sandbox/scim-apps", json={"slug": "Bad Slug", "name": "x"})
        assert bad.status_code == 400
        chosen = control.post(
            "/_sandbox/scim-apps",
            json={"slug": f"{app.slug}-t", "name": "T", "flavour": "zoom", "token": "chosen-token"},
        )
        assert chosen.json()["token"] == "chosen-token"
    state = app.state()
    assert (state["slug"], state["flavour"], state["users"], state["groups"]) == (
        app.slug,
        "full",
        [],
        [],
    )


def test_control_api_lists_counts_and_removes_apps(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "zoom")
    with app.raw() as raw:
        raw.get("/Users")
    with sandbox_server.control() as control:
        listed = control.get("/_sandbox/scim-apps").json()
        assert {"slug": app.slug, "name": app.slug, "flavour": "zoom"} in listed
        stats = control.get(f"/_sandbox/scim-apps/{app.slug}/stats").json()
        assert stats["calls"] == {"GET /Users": 1}
        assert control.delete(f"/_sandbox/scim-apps/{app.slug}").status_code == 204
        assert control.get(f"/_sandbox/scim-apps/{app.slug}").status_code == 404
    with app.raw() as raw:
        gone = raw.get("/Users")
    assert (gone.status_code, gone.json()["status"]) == (404, "404")


def test_a_missing_or_wrong_bearer_token_is_401_in_scim_shape(scim_app: App) -> None:
    with scim_app.raw(token="wrong-token") as raw:
        response = raw.get("/Users")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "401",
        "detail": "bearer token missing or wrong",
    }


def test_create_read_replace_delete_a_user(scim_app: App) -> None:
    client = scim_app.client()
    created = client.create(
        User(
            user_name="ada@contoso.example",
            external_id="hr-1",
            name=Name(given_name="Ada", family_name="Lovelace"),
            emails=[Email(value="ada@contoso.example", type="work", primary=True)],
            active=True,
        )
    )
    assert created.id and created.meta.resource_type == "User"
    assert created.meta.location == f"{scim_app.base_url}/Users/{created.id}"
    assert created.external_id == "hr-1"
    fetched = client.query(User, created.id)
    assert fetched.name.family_name == "Lovelace"

    fetched.active = False
    fetched.display_name = "Ada L."
    replaced = client.replace(fetched)
    assert (replaced.active, replaced.display_name) == (False, "Ada L.")
    assert replaced.meta.version != created.meta.version
    assert [u["active"] for u in scim_app.state()["users"]] == [False]

    client.delete(User, created.id)
    with pytest.raises(NotFoundException):
        client.query(User, created.id)
    gone = client.query(User, created.id, raise_scim_errors=False)
    assert isinstance(gone, Error) and gone.status == 404
    assert scim_app.state()["users"] == []


def test_a_duplicate_user_name_is_409_uniqueness_whatever_its_case(scim_app: App) -> None:
    client = scim_app.client()
    client.create(User(user_name="bob@contoso.example"))
    answer = client.create(User(user_name="BOB@Contoso.example"), raise_scim_errors=False)
    assert isinstance(answer, Error)
    assert (answer.status, answer.scim_type) == (409, "uniqueness")


def test_filter_on_user_name_is_case_insensitive(scim_app: App) -> None:
    client = scim_app.client()
    for name in ("carla@contoso.example", "carlos@contoso.example"):
        client.create(User(user_name=name))
    found = client.query(
        User, query_parameters=SearchRequest(filter='userName eq "CARLA@contoso.example"')
    )
    assert isinstance(found, ListResponse)
    assert [u.user_name for u in found.resources] == ["carla@contoso.example"]
    assert found.total_results == 1


def test_a_bad_filter_is_400_invalid_filter(scim_app: App) -> None:
    client = scim_app.client()
    texts = (
        "userName eq",
        'userName xx "a"',
        'nosuch eq "a"',
        '(userName eq "a"',
        "active gt true",
    )
    for text in texts:
        # scim2-models checks the grammar itself; unchecked, the app has to answer.
        answer = client.query(
            User,
            query_parameters={"filter": text},
            check_request_payload=False,
            raise_scim_errors=False,
        )
        assert isinstance(answer, Error), text
        assert (answer.status, answer.scim_type) == (400, "invalidFilter"), text


def test_paging_walks_every_user_exactly_once(scim_app: App) -> None:
    client = scim_app.client()
    made = {client.create(User(user_name=f"p{i}@contoso.example")).id for i in range(23)}
    seen: list[str] = []
    start = 1
    while True:
        page = client.query(User, query_parameters=SearchRequest(start_index=start, count=5))
        assert page.total_results == 23
        assert page.start_index == start
        resources = page.resources or []
        seen += [u.id for u in resources]
        if start + page.items_per_page > page.total_results:
            break
        start += page.items_per_page
    assert len(seen) == 23 and set(seen) == made


def test_paging_bounds_follow_the_rfc(scim_app: App) -> None:
    client = scim_app.client()
    for i in range(3):
        client.create(User(user_name=f"b{i}@contoso.example"))
    with scim_app.raw() as raw:
        low = raw.get("/Users", params={"startIndex": "-4", "count": "2"}).json()
        assert (low["startIndex"], low["itemsPerPage"]) == (1, 2)
        none = raw.get("/Users", params={"count": "-1"}).json()
        assert (none["totalResults"], none["itemsPerPage"], none["Resources"]) == (3, 0, [])
        past = raw.get("/Users", params={"startIndex": "10"}).json()
        assert (past["totalResults"], past["itemsPerPage"]) == (3, 0)


def test_the_app_can_be_made_to_throttle_with_retry_after(scim_app: App) -> None:
    scim_app.behave(throttle_next=1)
    with scim_app.raw() as raw:
        throttled = raw.get("/Users")
        assert throttled.status_code == 429
        assert throttled.headers["Retry-After"] == "1"
        assert throttled.json()["status"] == "429"
        assert raw.get("/Users").status_code == 200
    scim_app.behave(throttle_next=1, throttle_status=503)
    with scim_app.raw() as raw:
        busy = raw.get("/Users")
    assert busy.status_code == 503 and "Retry-After" in busy.headers


def test_application_json_bodies_are_accepted_and_others_refused(scim_app: App) -> None:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "j@c.example"}
    with scim_app.raw() as raw:
        as_json = raw.post("/Users", json=body, headers={"Content-Type": "application/json"})
        assert as_json.status_code == 201
        assert as_json.headers["content-type"].startswith("application/scim+json")
        as_text = raw.post("/Users", content=b"userName=x", headers={"Content-Type": "text/plain"})
        assert as_text.status_code == 415
        no_schemas = raw.post("/Users", json={"userName": "k@c.example"})
        assert (no_schemas.status_code, no_schemas.json()["scimType"]) == (400, "invalidSyntax")


def test_a_schema_named_twice_is_invalid_syntax_and_changes_nothing(scim_app: App) -> None:
    """RFC 7643 §3: the "schemas" of a resource "Each String value must be a unique URI ...
    Duplicate values MUST NOT be included"; a body that breaks it does not conform to the
    request schema: 400 invalidSyntax (RFC 7644 §3.12), on POST and PUT of users and groups.
    The same schemas once each, in any order ("Value order ... MUST NOT impact behavior"),
    are taken."""
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    group = "urn:ietf:params:scim:schemas:core:2.0:Group"
    with scim_app.raw() as raw:
        twice = raw.post("/Users", json={"schemas": [core, core], "userName": "d@c.example"})
        assert (twice.status_code, twice.json()["scimType"]) == (400, "invalidSyntax")
        assert "d@c.example" not in str(scim_app.state())
        either_case = [enterprise, core, enterprise.upper()]
        again = raw.post("/Users", json={"schemas": either_case, "userName": "d@c.example"})
        assert (again.status_code, again.json()["scimType"]) == (400, "invalidSyntax")
        made = raw.post("/Users", json={"schemas": [enterprise, core], "userName": "d@c.example"})
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        put = {"schemas": [core, core], "userName": "d@c.example", "title": "Boss"}
        replaced = raw.put(f"/Users/{user_id}", json=put)
        assert (replaced.status_code, replaced.json()["scimType"]) == (400, "invalidSyntax")
        assert "title" not in raw.get(f"/Users/{user_id}").json()
        groups = raw.post("/Groups", json={"schemas": [group, group], "displayName": "Twice"})
        assert (groups.status_code, groups.json()["scimType"]) == (400, "invalidSyntax")


def test_a_multi_valued_attribute_is_an_array_in_a_resource_body(scim_app: App) -> None:
    """RFC 7643 §2.4: "Multi-valued attributes contain a list of elements using the JSON array
    format"; a single object for `emails` or `members` in a POST or PUT body does not fit the
    attribute's type: 400 invalidValue (RFC 7644 §3.12), nothing written. The sandbox wrapped
    it in a list. A PATCH may still add one value to a multi-valued path (RFC 7644 §3.5.2.1:
    "a new value is added")."""
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    group = "urn:ietf:params:scim:schemas:core:2.0:Group"
    patch_op = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    single = {"value": "e@c.example", "type": "work"}
    with scim_app.raw() as raw:
        refused = raw.post("/Users", json={"schemas": [core], "userName": "e", "emails": single})
        assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidValue")
        assert "e@c.example" not in str(scim_app.state())
        made = raw.post("/Users", json={"schemas": [core], "userName": "e", "emails": [single]})
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        put = {"schemas": [core], "userName": "e", "emails": {"value": "f@c.example"}}
        replaced = raw.put(f"/Users/{user_id}", json=put)
        assert (replaced.status_code, replaced.json()["scimType"]) == (400, "invalidValue")
        assert raw.get(f"/Users/{user_id}").json()["emails"] == [single]
        members = {"schemas": [group], "displayName": "Solo", "members": {"value": user_id}}
        refused = raw.post("/Groups", json=members)
        assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidValue")
        assert "Solo" not in str(scim_app.state())

        add_one = {"op": "add", "path": "emails", "value": {"value": "g@c.example"}}
        patched = raw.patch(
            f"/Users/{user_id}", json={"schemas": [patch_op], "Operations": [add_one]}
        )
        assert patched.status_code == 200, patched.text
        assert [e["value"] for e in patched.json()["emails"]] == ["e@c.example", "g@c.example"]
