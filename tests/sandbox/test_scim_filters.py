"""Filters (RFC 7644 §3.4.2.2) and attribute projection (§3.4.2.5) on the `full` flavour."""

from __future__ import annotations

import pytest
from scim2_models import Email, Name, SearchRequest, User

from tests.sandbox.scim_support import App, make_app
from tests.sandbox.server import SandboxServer


@pytest.fixture(scope="module")
def people(sandbox_server: SandboxServer) -> App:
    """One app with three people, read (never changed) by every test of the module."""
    scim_app = make_app(sandbox_server, "full")
    client = scim_app.client()
    client.create(
        User(
            user_name="ada@contoso.example",
            external_id="HR-1",
            title="Engineer",
            active=True,
            name=Name(given_name="Ada", family_name="Lovelace"),
            emails=[
                Email(value="ada@contoso.example", type="work"),
                Email(value="ada@home.example", type="home"),
            ],
        )
    )
    client.create(
        User(
            user_name="bob@contoso.example",
            external_id="hr-2",
            title="Sales Manager",
            active=False,
            name=Name(given_name="Bob", family_name="Baker"),
            emails=[Email(value="bob@contoso.example", type="work")],
        )
    )
    client.create(User(user_name="cy@fabrikam.example", active=True))
    return scim_app


def names(app: App, text: str) -> list[str]:
    page = app.client(discover=False).query(User, query_parameters=SearchRequest(filter=text))
    return [u.user_name.split("@")[0] for u in page.resources or []]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "ADA@contoso.example"', ["ada"]),
        ('userName ne "ada@contoso.example"', ["bob", "cy"]),
        ('userName co "CONTOSO"', ["ada", "bob"]),
        ('userName sw "b"', ["bob"]),
        ('userName ew "fabrikam.example"', ["cy"]),
        ("title pr", ["ada", "bob"]),
        ('userName gt "b"', ["bob", "cy"]),
        ('userName le "bob@contoso.example"', ["ada", "bob"]),
        ("active eq true", ["ada", "cy"]),
        ('name.familyName eq "baker"', ["bob"]),
        ('emails[type eq "work" and value co "contoso"]', ["ada", "bob"]),
        ('emails[type eq "home"]', ["ada"]),
        ('emails co "home.example"', ["ada"]),
        ('externalId eq "hr-1"', []),  # externalId is caseExact (RFC 7643 §3.1)
        ('externalId eq "HR-1"', ["ada"]),
        ('title eq "engineer" or title sw "sales"', ["ada", "bob"]),
        ('not (userName sw "a") and active eq true', ["cy"]),
        ('(title pr or active eq false) and not (emails[type eq "home"])', ["bob"]),
        ('meta.created gt "2000-01-01T00:00:00Z"', ["ada", "bob", "cy"]),
        ('META.RESOURCETYPE eq "User" AND USERNAME SW "C"', ["cy"]),
    ],
)
def test_filters(people: App, text: str, expected: list[str]) -> None:
    assert names(people, text) == expected


def test_attributes_and_excluded_attributes(people: App) -> None:
    with people.raw() as raw:
        some = raw.get(
            "/Users",
            params={"filter": 'userName sw "ada"', "attributes": "userName,name.givenName"},
        ).json()["Resources"][0]
        assert set(some) == {"schemas", "id", "userName", "name"}
        assert some["name"] == {"givenName": "Ada"}
        rest = raw.get(
            "/Users", params={"filter": 'userName sw "ada"', "excludedAttributes": "emails,id"}
        ).json()["Resources"][0]
        assert "emails" not in rest and rest["id"]  # id is returned "always"
        one = raw.get(f"/Users/{rest['id']}", params={"attributes": "emails.value"}).json()
        assert one["emails"] == [{"value": "ada@contoso.example"}, {"value": "ada@home.example"}]


@pytest.mark.parametrize(
    "body",
    [
        {"count": "1"},
        {"startIndex": "2"},
        {"count": 1.5},
        {"count": True},
        {"attributes": "userName"},
        {"excludedAttributes": "emails"},
    ],
)
def test_a_search_request_of_the_wrong_shape_is_invalid_syntax(people: App, body: dict) -> None:
    """RFC 7644 §3.4.3: a SearchRequest's "startIndex" and "count" are integers, "attributes"
    and "excludedAttributes" multi-valued lists of strings; a body that does not conform to
    the request schema is 400 invalidSyntax (§3.12). The sandbox read "1" as 1 and a lone
    string as a list of one."""
    search = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    with people.raw() as raw:
        refused = raw.post("/Users/.search", json={"schemas": [search], **body})
        assert refused.status_code == 400, refused.text
        assert refused.json()["scimType"] == "invalidSyntax"
        proper = {"count": 1, "startIndex": 2, "attributes": ["userName"]}
        taken = raw.post("/Users/.search", json={"schemas": [search], **proper})
        assert taken.status_code == 200, taken.text
        assert taken.json()["itemsPerPage"] == 1
        assert set(taken.json()["Resources"][0]) == {"schemas", "id", "userName"}


@pytest.mark.parametrize(
    "text", ["active eq True", "active eq TRUE", "active ne False", "title eq NULL"]
)
def test_true_false_and_null_are_lower_case_in_a_filter(people: App, text: str) -> None:
    """RFC 7644 §3.4.2.2 (Figure 1): `compValue = false / null / true / number / string ;
    rules from JSON (RFC 7159)`, and RFC 7159 §3: "The literal names MUST be lowercase. No
    other literal names are allowed." `True` is no value: 400 invalidFilter (§3.12). The
    sandbox read the literals in any case (attribute names and operators stay
    case-insensitive, §3.4.2.2)."""
    with people.raw() as raw:
        refused = raw.get("/Users", params={"filter": text})
        assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidFilter")
        head, _, literal = text.rpartition(" ")
        lower = raw.get("/Users", params={"filter": f"{head} {literal.lower()}"})
        assert lower.status_code == 200, lower.text
        assert raw.get("/Users", params={"filter": "ACTIVE EQ true"}).status_code == 200


@pytest.mark.parametrize(
    "value",
    [r'"ada\q"', r'"ada\u00"', '"ada\tx"', r'"\x41"'],
    ids=["unknown-escape", "short-unicode-escape", "raw-tab", "hex-escape"],
)
def test_a_string_that_is_no_json_string_is_an_invalid_filter(people: App, value: str) -> None:
    """RFC 7644 §3.4.2.2 (Figure 1): a compValue string follows "rules from JSON (RFC
    7159)": RFC 7159 §7 allows only the escapes `\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX` and no
    unescaped control character. Anything else is a filter that "is not valid": 400
    invalidFilter (§3.12), in a query and in a PATCH path's value filter alike. The sandbox
    failed with a 500 on them; a JSON escape (`\\"`, `\\u0061`) is still read."""
    search = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
    with people.raw() as raw:
        for refused in (
            raw.get("/Users", params={"filter": f"userName eq {value}"}),
            raw.post("/Users/.search", json={"schemas": [search], "filter": f"title eq {value}"}),
        ):
            assert refused.status_code == 400, refused.text
            assert refused.json()["scimType"] == "invalidFilter"
        someone = raw.get("/Users", params={"filter": 'userName eq "ada@contoso.example"'})
        ada = someone.json()["Resources"][0]["id"]
        patch = raw.patch(
            f"/Users/{ada}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": f"emails[value eq {value}]"}],
            },
        )
        assert patch.status_code == 400, patch.text
        assert patch.json()["scimType"] == "invalidFilter"
        escaped = raw.get("/Users", params={"filter": r'userName eq "\u0061da@contoso.example"'})
        assert escaped.json()["totalResults"] == 1, escaped.text
