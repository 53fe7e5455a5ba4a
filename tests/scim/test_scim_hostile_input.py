"""Crafted SCIM input is answered with a SCIM error, never a 500: a start index beyond what
the database takes as an OFFSET, a NUL in a value (PostgreSQL refuses it in text), a body
nested deeper than Python's recursion limit."""

from __future__ import annotations

import json

import pytest

from provisioning.models import Identity
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
