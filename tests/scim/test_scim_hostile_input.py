"""Crafted SCIM input is answered with a SCIM error, never a 500: a start index beyond what
the database takes as an OFFSET, a NUL in a value (PostgreSQL refuses it in text), a body
nested deeper than Python's recursion limit."""

from __future__ import annotations

import json

import pytest

from provisioning.models import Identity
from provisioning.scim.filters import MAX_FILTER_LENGTH
from tests.scim.test_scim_endpoint import ada, call, url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["scim_users", "scim_groups"])
def test_a_start_index_past_a_bigint_is_an_empty_page(client, scim, name):
    response = call(client, scim, "get", url(scim, name) + "?startIndex=" + "9" * 30)
    assert response.status_code == 200, response.content
    assert response.json()["itemsPerPage"] == 0
    assert not response.json().get("Resources")


@pytest.mark.parametrize(
    "body",
    [
        ada(userName="ada\x00@alpha.test"),
        ada(title="Ana\x00lyst"),
        ada(
            **{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "\x00"}}
        ),
        ada(emails=[{"value": "a\x00@alpha-corp.com", "type": "work", "primary": True}]),
    ],
)
def test_a_nul_in_a_value_is_a_400(client, scim, body):
    response = call(client, scim, "post", url(scim), body)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
    assert not Identity.objects.filter(tenant=scim.tenant, external_id="okta-00u1").exists()


def test_a_nul_in_a_patch_is_a_400(client, scim):
    created = call(client, scim, "post", url(scim), ada()).json()
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "x\x00y"}],
    }
    user_url = url(scim, "scim_user", user_id=created["id"])
    response = call(client, scim, "patch", user_url, patch)
    assert response.status_code == 400, response.content
    assert call(client, scim, "get", user_url).json()["title"] == "Analyst"


def test_a_body_nested_past_the_recursion_limit_is_a_400(client, scim):
    raw = '{"a": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = call(client, scim, "post", url(scim), raw=raw)
    assert response.status_code == 400, response.content
    assert json.loads(response.content)["scimType"] == "invalidSyntax"


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize(
    ("body", "attribute"),
    [
        (ada(displayName="<img src=x onerror=alert(1)>"), "displayName"),
        (ada(name={"givenName": "<b>Ada</b>", "familyName": "Lovelace"}), "name.givenName"),
        (ada(name={"givenName": "Ada", "familyName": '=HYPERLINK("x")'}), "name.familyName"),
        (ada(title="+Analyst"), "title"),
        (ada(**{ENTERPRISE: {"department": "@SUM(A1)"}}), "department"),
        (ada(**{ENTERPRISE: {"organization": "-2+3"}}), "organization"),
        (ada(displayName="Ada \u202eexe.gnp"), "displayName"),
        (ada(name={"givenName": "Ada\u200bLovelace", "familyName": "L"}), "name.givenName"),
    ],
)
def test_a_name_or_attribute_that_is_no_plain_text_is_a_400(client, scim, body, attribute):
    """The one rule for a person's name or attribute (portal/plain_text.py), which the forms,
    the CSV import and the HR webhook apply: SCIM took markup and spreadsheet formulas, and
    pushed them into the directories, whose own reports and exports carry them."""
    response = call(client, scim, "post", url(scim), body)
    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
    assert attribute in response.json()["detail"]
    assert not Identity.objects.filter(tenant=scim.tenant, external_id="okta-00u1").exists()


def test_a_patch_to_a_formula_is_a_400_and_changes_nothing(client, scim):
    created = call(client, scim, "post", url(scim), ada()).json()
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "=cmd|' /C calc'!A0"}],
    }
    user_url = url(scim, "scim_user", user_id=created["id"])
    response = call(client, scim, "patch", user_url, patch)
    assert response.status_code == 400, response.content
    assert call(client, scim, "get", user_url).json()["title"] == "Analyst"


@pytest.mark.parametrize("size", [300 * 1024, 3 * 1024 * 1024])
def test_a_body_too_large_is_a_scim_413(client, scim, size):
    """Past the endpoint's limit, and past Django's own (DATA_UPLOAD_MAX_MEMORY_SIZE, which
    answered the portal's HTML page): the SCIM error, and nobody created."""
    raw = json.dumps(ada(title="x" * size))
    response = call(client, scim, "post", url(scim), raw=raw)
    assert response.status_code == 413, response.content[:200]
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["status"] == "413"
    assert not Identity.objects.filter(tenant=scim.tenant, external_id="okta-00u1").exists()


# -- the filter's bound on every way in (attack15) ---------------------------------------------

# Some 70 KB: under the body's 256 KB, far past the filter's 1,000 characters.
LONG_FILTER = " or ".join(f'userName eq "person{n}@alpha.test"' for n in range(2000))


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """Each text scim2-models' filter and path parsers were given. Reading a filter costs
    time in its length (some 3 s of CPU for 200 KB): one past the bound must be refused
    before it is read, on POST .search and in a PATCH path as on GET."""
    from scim2_models.path import filter as filter_module
    from scim2_models.path import path as path_module

    texts: list[str] = []
    for module, name in ((filter_module, "_parse_filter"), (path_module, "_parse_path")):
        real = getattr(module, name)

        def spy(text, *args, _real=real, **kwargs):
            texts.append(str(text))
            return _real(text, *args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    return texts


def test_a_search_requests_filter_past_the_bound_is_refused_unread(client, scim, parsed):
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}
    response = call(
        client, scim, "post", url(scim, "scim_users_search"), body | {"filter": LONG_FILTER}
    )

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidFilter"
    assert "too long" in response.json()["detail"]
    assert [len(text) for text in parsed if len(text) > MAX_FILTER_LENGTH] == []


def test_a_patch_path_past_the_bound_is_refused_unread(client, scim, parsed):
    created = call(client, scim, "post", url(scim), ada()).json()
    path = "emails[" + LONG_FILTER.replace("userName", "value") + "]"
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": path}],
    }

    response = call(client, scim, "patch", url(scim, "scim_user", user_id=created["id"]), patch)

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidPath"
    assert "too long" in response.json()["detail"]
    assert [len(text) for text in parsed if len(text) > MAX_FILTER_LENGTH] == []


# 2,000 names, 30 KB: each is read as a path, and each resource shown is cut by each (7 s
# for 30 people on the demo).
ATTRIBUTES = ",".join(["name.givenName"] * 2000)


@pytest.mark.parametrize("member", ["attributes", "excludedAttributes"])
def test_attributes_past_the_bound_are_refused_unread_on_get(client, scim, parsed, member):
    call(client, scim, "post", url(scim), ada())

    response = client.get(
        url(scim), {member: ATTRIBUTES}, HTTP_AUTHORIZATION=f"Bearer {scim.clear}"
    )

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
    assert f"{member} is too long" in response.json()["detail"]
    assert "name.givenName" not in parsed


# 60 names (a list within its 100 items), 3.5 KB as the query string has them
FULL_NAME = "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName"


@pytest.mark.parametrize(
    "member, value, kind",
    [
        ("attributes", [FULL_NAME] * 60, "invalidValue"),
        ("excludedAttributes", [FULL_NAME] * 60, "invalidValue"),
        ("sortBy", "emails[" + " or ".join(["value pr"] * 2000) + "]", "invalidPath"),
    ],
)
def test_a_search_requests_names_past_the_bound_are_refused_unread(
    client, scim, parsed, member, value, kind
):
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], member: value}
    response = call(client, scim, "post", url(scim, "scim_users_search"), body)

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == kind
    assert f"{member} is too long" in response.json()["detail"]
    assert parsed == []


# -- lists within the body's 256 KB (attack15) -------------------------------------------------
# scim2-models validates each item of a list on its own (some 0.6 ms an e-mail address here:
# 5,000 of them cost 3 s), and a PATCH applies each operation: an identity provider sends a
# handful of either, so a list of more than 100 items is refused before any is read.


def test_a_user_with_more_than_a_hundred_addresses_is_refused_and_not_made(client, scim):
    emails = [{"value": f"ada{n}@alpha-corp.com", "type": "work"} for n in range(101)]

    response = call(client, scim, "post", url(scim), ada(emails=emails))

    assert response.status_code == 400, response.content
    assert response.json()["scimType"] == "invalidValue"
    assert "at most 100" in response.json()["detail"]
    assert not Identity.objects.filter(tenant=scim.tenant, external_id="okta-00u1").exists()


def test_a_patch_of_more_than_a_hundred_operations_changes_nothing(client, scim):
    created = call(client, scim, "post", url(scim), ada()).json()
    user_url = url(scim, "scim_user", user_id=created["id"])
    operations = [{"op": "replace", "path": "title", "value": f"Title {n}"} for n in range(101)]
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}

    response = call(client, scim, "patch", user_url, patch)

    assert response.status_code == 400, response.content
    assert "at most 100" in response.json()["detail"]
    assert call(client, scim, "get", user_url).json()["title"] == "Analyst"
