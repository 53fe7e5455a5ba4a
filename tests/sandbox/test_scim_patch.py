"""PATCH on the sandbox's SCIM apps (RFC 7644 §3.5.2), as scim2-client sends it."""

from __future__ import annotations

from scim2_models import Email, EnterpriseUser, Error, Name, PatchOp, PatchOperation, User

from tests.sandbox.scim_support import App, enterprise_user

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def patch_op(*operations: dict) -> PatchOp[User]:
    return PatchOp[User](operations=[PatchOperation(**o) for o in operations])


def raw_patch(app: App, user_id: str, *operations: dict) -> dict:
    """A PATCH a strict client library would refuse to build; the app answers it."""
    with app.raw() as raw:
        response = raw.patch(
            f"/Users/{user_id}", json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)}
        )
    return {**response.json(), "status": response.status_code}  # the HTTP status, an int


def test_replace_add_and_remove_with_paths(scim_app: App) -> None:
    client = scim_app.client()
    user = client.create(
        User(
            user_name="dana@contoso.example",
            name=Name(given_name="Dana", family_name="Adams"),
            emails=[Email(value="dana@contoso.example", type="work", primary=True)],
            active=True,
        )
    )
    result = client.modify(
        User,
        user.id,
        patch_op(
            {"op": "replace", "path": "active", "value": False},
            {"op": "replace", "path": "name.familyName", "value": "Baker"},
            {"op": "add", "path": "emails", "value": [{"value": "d@home.example", "type": "home"}]},
            {
                "op": "replace",
                "path": 'emails[type eq "work"].value',
                "value": "db@contoso.example",
            },
        ),
    )
    assert result.active is False
    assert (result.name.given_name, result.name.family_name) == ("Dana", "Baker")
    assert [(e.value, e.type) for e in result.emails] == [
        ("db@contoso.example", "work"),
        ("d@home.example", "home"),
    ]
    removed = client.modify(
        User, user.id, patch_op({"op": "remove", "path": 'emails[type eq "home"]'})
    )
    assert [e.value for e in removed.emails] == ["db@contoso.example"]


def test_ops_are_case_insensitive_and_a_pathless_replace_merges(scim_app: App) -> None:
    client = scim_app.client()
    user = client.create(User(user_name="eli@contoso.example", title="Engineer"))
    answer = raw_patch(
        scim_app,
        user.id,
        {"op": "Replace", "value": {"displayName": "Eli", "NAME": {"givenName": "Eli"}}},
        {"op": "ADD", "value": {f"{ENTERPRISE}:department": "Sales"}},
    )
    assert answer["status"] == 200
    assert (answer["displayName"], answer["name"], answer["title"]) == (
        "Eli",
        {"givenName": "Eli"},
        "Engineer",
    )
    assert answer[ENTERPRISE] == {"department": "Sales"}


def test_the_enterprise_extension_through_the_client(scim_app: App) -> None:
    client = scim_app.client()
    user = client.create(enterprise_user("fay@contoso.example", "Finance"))
    assert user[EnterpriseUser].department == "Finance"
    client.modify(
        User[EnterpriseUser],
        user.id,
        PatchOp[User[EnterpriseUser]](
            operations=[
                PatchOperation(op="replace", path=f"{ENTERPRISE}:department", value="Legal")
            ]
        ),
    )
    assert scim_app.state()["users"][0][ENTERPRISE] == {"department": "Legal"}


def test_remove_of_an_extension_attribute_clears_it_alone(scim_app: App) -> None:
    """RFC 7644 §3.5.2.2: "remove" with a path naming a single-valued attribute removes
    it; the rest of the extension and the user stay."""
    client = scim_app.client()
    user = enterprise_user("gil@contoso.example", "Finance")
    user[EnterpriseUser].organization = "Contoso"
    user = client.create(user)
    client.modify(
        User[EnterpriseUser],
        user.id,
        PatchOp[User[EnterpriseUser]](
            operations=[PatchOperation(op="remove", path=f"{ENTERPRISE}:department")]
        ),
    )
    held = scim_app.state()["users"][0]
    assert held[ENTERPRISE] == {"organization": "Contoso"}
    assert held["userName"] == "gil@contoso.example"


def test_remove_without_path_is_no_target(scim_app: App) -> None:
    user = scim_app.client().create(User(user_name="gus@contoso.example"))
    answer = raw_patch(scim_app, user.id, {"op": "remove"})
    assert (answer["status"], answer["scimType"]) == (400, "noTarget")


def test_remove_with_a_value_is_refused_and_keeps_every_email(scim_app: App) -> None:
    client = scim_app.client()
    user = client.create(
        User(user_name="lea@contoso.example", emails=[Email(value="lea@contoso.example")])
    )
    answer = raw_patch(
        scim_app, user.id, {"op": "remove", "path": "emails", "value": [{"value": "x@y.z"}]}
    )
    assert (answer["status"], answer["scimType"]) == (400, "invalidSyntax")
    assert [e.value for e in client.query(User, user.id).emails] == ["lea@contoso.example"]


def test_a_filter_matching_nothing_is_no_target(scim_app: App) -> None:
    user = scim_app.client().create(User(user_name="hal@contoso.example"))
    answer = raw_patch(
        scim_app, user.id, {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x"}
    )
    assert (answer["status"], answer["scimType"]) == (400, "noTarget")


def test_a_patch_that_makes_a_value_primary_demotes_the_others(scim_app: App) -> None:
    """RFC 7644 §3.5.2: the app sets "primary" to false on the other values itself, whether
    the new primary is added or chosen by a filter; a body with two primaries of its own is
    still refused (RFC 7643 §2.4). The app used to refuse the add with 400 invalidValue."""
    client = scim_app.client()
    user = client.create(
        User(
            user_name="kim@contoso.example",
            emails=[Email(value="kim@contoso.example", type="work", primary=True)],
        )
    )
    home = {"value": "kim@home.example", "type": "home", "primary": True}
    answer = raw_patch(scim_app, user.id, {"op": "add", "path": "emails", "value": [home]})
    assert answer["status"] == 200, answer
    assert [(e["value"], e.get("primary")) for e in answer["emails"]] == [
        ("kim@contoso.example", False),
        ("kim@home.example", True),
    ]

    back = raw_patch(
        scim_app,
        user.id,
        {"op": "replace", "path": 'emails[type eq "work"].primary', "value": True},
    )
    assert back["status"] == 200, back
    assert [e.get("primary") for e in back["emails"]] == [True, False]

    pathless = raw_patch(
        scim_app, user.id, {"op": "add", "value": {"emails": [home | {"value": "k2@home.example"}]}}
    )
    assert [e.get("primary") for e in pathless["emails"]] == [False, False, True]

    two = [home | {"value": "a@x.example"}, home | {"value": "b@x.example"}]
    answer = raw_patch(scim_app, user.id, {"op": "add", "path": "emails", "value": two})
    assert (answer["status"], answer["scimType"]) == (400, "invalidValue")


def test_read_only_attributes_cannot_be_patched(scim_app: App) -> None:
    user = scim_app.client().create(User(user_name="ivy@contoso.example"))
    for path in ("id", "meta.created", "groups"):
        answer = raw_patch(scim_app, user.id, {"op": "replace", "path": path, "value": "x"})
        assert (answer["status"], answer["scimType"]) == (400, "mutability"), path


def test_bad_paths_and_values(scim_app: App) -> None:
    user = scim_app.client().create(User(user_name="jo@contoso.example"))
    cases = [
        ({"op": "replace", "path": "nosuch", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq]", "value": "x"}, "invalidFilter"),
        ({"op": "replace", "path": "active", "value": "False"}, "invalidValue"),
        ({"op": "add", "path": "title"}, "invalidValue"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
        ({"op": "remove", "path": "userName"}, "mutability"),  # required (RFC 7644 §3.5.2.2)
    ]
    for operation, scim_type in cases:
        answer = raw_patch(scim_app, user.id, operation)
        assert (answer["status"], answer["scimType"]) == (400, scim_type), operation


def test_a_patch_that_fails_half_way_changes_nothing(scim_app: App) -> None:
    client = scim_app.client()
    client.create(User(user_name="taken@contoso.example"))
    user = client.create(User(user_name="kim@contoso.example", title="Analyst"))
    before = scim_app.state()["users"][1]
    answer = raw_patch(
        scim_app,
        user.id,
        {"op": "replace", "path": "title", "value": "Director"},
        {"op": "replace", "path": "userName", "value": "TAKEN@contoso.example"},
    )
    assert (answer["status"], answer["scimType"]) == (409, "uniqueness")
    answer = raw_patch(
        scim_app,
        user.id,
        {"op": "replace", "path": "title", "value": "Director"},
        {"op": "remove", "path": 'emails[type eq "work"]'},
    )
    assert (answer["status"], answer["scimType"]) == (400, "noTarget")
    assert scim_app.state()["users"][1] == before
    assert client.query(User, user.id).title == "Analyst"


def test_patch_needs_the_patch_op_schema(scim_app: App) -> None:
    user = scim_app.client().create(User(user_name="lu@contoso.example"))
    with scim_app.raw() as raw:
        response = raw.patch(
            f"/Users/{user.id}", json={"Operations": [{"op": "add", "path": "title", "value": "x"}]}
        )
    assert (response.status_code, response.json()["scimType"]) == (400, "invalidSyntax")


def test_a_stale_if_match_is_412(scim_app: App) -> None:
    user = scim_app.client().create(User(user_name="mo@contoso.example"))
    with scim_app.raw() as raw:
        body = {
            "schemas": [PATCH_SCHEMA],
            "Operations": [{"op": "add", "path": "title", "value": "x"}],
        }
        fresh = raw.patch(f"/Users/{user.id}", json=body, headers={"If-Match": user.meta.version})
        assert fresh.status_code == 200
        stale = raw.patch(f"/Users/{user.id}", json=body, headers={"If-Match": user.meta.version})
        assert stale.status_code == 412
        assert stale.json()["status"] == "412"
        unchanged = raw.get(f"/Users/{user.id}", headers={"If-None-Match": fresh.headers["ETag"]})
        assert unchanged.status_code == 304


def test_if_none_match_star_holds_for_any_current_version(scim_app: App) -> None:
    """RFC 7644 §3.14 takes ETags "as specified in RFC 7232"; RFC 9110 §13.1.2 (RFC 7232
    §3.2): If-None-Match "*" is false when the resource has a current representation, so a
    GET is 304 and a write is 412, nothing changed (a client writing "only if it is not
    there yet"). The sandbox compared "*" as if it were a tag: 200, and the write went on."""
    user = scim_app.client().create(User(user_name="nia@contoso.example"))
    body = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "title", "value": "x"}]}
    star = {"If-None-Match": "*"}
    with scim_app.raw() as raw:
        assert raw.get(f"/Users/{user.id}", headers=star).status_code == 304
        refused = raw.patch(f"/Users/{user.id}", json=body, headers=star)
        assert refused.status_code == 412, refused.text
        assert raw.get(f"/Users/{user.id}").json().get("title") is None
        current = raw.get(f"/Users/{user.id}").headers["ETag"]
        same = raw.put(
            f"/Users/{user.id}",
            json={"schemas": [USER_SCHEMA], "userName": "nia@contoso.example", "title": "y"},
            headers={"If-None-Match": current},
        )
        assert same.status_code == 412, same.text
        assert raw.get(f"/Users/{user.id}").json().get("title") is None
        assert raw.patch(f"/Users/{user.id}", json=body).status_code == 200


def test_error_answers_parse_as_scim_errors(scim_app: App) -> None:
    client = scim_app.client()
    user = client.create(User(user_name="ned@contoso.example"))
    answer = client.modify(
        User,
        user.id,
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove"}]},
        check_request_payload=False,
        raise_scim_errors=False,
    )
    assert isinstance(answer, Error)
    assert (answer.status, answer.scim_type) == (400, "noTarget")
