"""The SCIM endpoint as RFC 7644 and RFC 9110 ask of it beyond the resources themselves: a
filter on the discovery endpoints, the endpoint's root, a body of another media type, and
preconditions on a write (ETags are not supported, so none can match)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from provisioning.models import Identity

from .test_scim_endpoint import ERROR, PATCH, ada, call, url

pytestmark = pytest.mark.django_db

DISCOVERY = [
    ("scim_service_provider_config", {}),
    ("scim_schemas", {}),
    ("scim_schema", {"schema_id": "urn:ietf:params:scim:schemas:core:2.0:User"}),
    ("scim_resource_types", {}),
    ("scim_resource_type", {"name": "User"}),
]


@pytest.mark.parametrize("name,kwargs", DISCOVERY)
def test_a_filter_on_a_discovery_endpoint_is_403(client, scim, name, kwargs):
    """RFC 7644 §4: the discovery endpoints take no filter; one given SHOULD be answered 403,
    so that a client does not read the whole list as what matched."""
    address = reverse(name, kwargs={"tenant": scim.tenant.slug, **kwargs})
    response = call(client, scim, "get", address + '?filter=id eq "User"')
    assert response.status_code == 403
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["schemas"] == [ERROR] and response.json()["status"] == "403"
    assert call(client, scim, "get", address).status_code == 200


@pytest.mark.parametrize("root", ["/scim/v2/{slug}/", "/scim/v2/{slug}"])
def test_the_endpoints_root_answers_in_scim_shape(client, scim, root):
    """Every answer under the endpoint is application/scim+json (docs/scim.md), its root
    too: it was the portal's HTML 404 page."""
    response = call(client, scim, "get", root.format(slug=scim.tenant.slug))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["schemas"] == [ERROR]
    refused = client.get(root.format(slug=scim.tenant.slug))
    assert refused.status_code == 401 and refused["Content-Type"] == "application/scim+json"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_of_another_media_type_is_415_and_creates_nobody(client, scim, content_type):
    """RFC 9110 §15.5.16: a body in a format the resource does not take is 415; SCIM takes
    JSON (RFC 7644 §3.1, §8.1). It was read as JSON whatever its type said."""
    response = client.post(
        url(scim),
        data=json.dumps(ada()),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
    )
    assert response.status_code == 415
    assert response["Content-Type"] == "application/scim+json"
    assert response.json()["schemas"] == [ERROR] and response.json()["status"] == "415"
    assert response["Accept"] == "application/scim+json, application/json"
    assert not Identity.objects.filter(username="ada@alpha.test").exists()


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/scim+json; charset=utf-8"]
)
def test_json_of_either_media_type_is_taken(client, scim, content_type):
    response = client.post(
        url(scim),
        data=json.dumps(ada()),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
    )
    assert response.status_code == 201


def _patch(client, scim, user_id, **headers):
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}
    return client.patch(
        url(scim, "scim_user", user_id=user_id),
        data=json.dumps(body),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
        **headers,
    )


def _title(client, scim, user_id) -> str:
    return call(client, scim, "get", url(scim, "scim_user", user_id=user_id)).json()["title"]


@pytest.mark.parametrize(
    "header,value",
    [("HTTP_IF_MATCH", 'W/"1"'), ("HTTP_IF_MATCH", '"abc"'), ("HTTP_IF_NONE_MATCH", "*")],
)
def test_a_precondition_no_version_can_meet_is_412_and_changes_nothing(client, scim, header, value):
    """RFC 9110 §13.1.1: a server that gets If-Match MUST evaluate it before the method, and
    MUST NOT perform it when it is false; the endpoint keeps no ETags (ServiceProviderConfig:
    etag unsupported), so no tag matches, and the user exists, so If-None-Match: * fails. A
    PATCH sent to guard against a lost update was applied all the same."""
    created = call(client, scim, "post", url(scim), ada())
    user_id = created.json()["id"]
    response = _patch(client, scim, user_id, **{header: value})
    assert response.status_code == 412
    assert response.json()["schemas"] == [ERROR] and response.json()["status"] == "412"
    assert _title(client, scim, user_id) == "Analyst"
    deleted = client.delete(
        url(scim, "scim_user", user_id=user_id),
        HTTP_AUTHORIZATION=f"Bearer {scim.clear}",
        **{header: value},
    )
    assert deleted.status_code == 412


def test_a_precondition_that_holds_lets_the_write_through(client, scim):
    created = call(client, scim, "post", url(scim), ada())
    user_id = created.json()["id"]
    assert _patch(client, scim, user_id, HTTP_IF_MATCH="*").status_code == 200
    assert _patch(client, scim, user_id, HTTP_IF_NONE_MATCH='"abc"').status_code == 200
    assert _title(client, scim, user_id) == "Lead"


def test_a_precondition_on_no_ones_user_is_still_404(client, scim):
    """RFC 9110 §13.2.1: preconditions are ignored where the answer would not be 2xx."""
    assert _patch(client, scim, "99999", HTTP_IF_MATCH='"abc"').status_code == 404


def test_an_unsupported_filter_names_the_attributes_as_the_schema_spells_them(client, scim):
    """The attributes are matched in any case (RFC 7644 §3.4.2.2) but named as the schema
    names them: the detail said 'username eq or externalid eq'."""
    response = call(client, scim, "get", url(scim) + '?filter=NICKNAME co "a"')
    assert response.status_code == 400 and response.json()["scimType"] == "invalidFilter"
    assert "NICKNAME" in response.json()["detail"]
    assert "userName, externalId, displayName" in response.json()["detail"]
    found = call(client, scim, "get", url(scim) + '?filter=USERNAME Eq "nobody@alpha.test"')
    assert found.status_code == 200 and found.json()["totalResults"] == 0


def test_a_delete_answers_204_with_no_content_type(client, scim):
    """RFC 9110 §15.3.5: a 204 has no content, so nothing for a Content-Type to describe
    (RFC 7644 §3.6 answers a DELETE with 204 No Content). It carried application/scim+json."""
    person_id = call(client, scim, "post", url(scim), ada()).json()["id"]
    response = call(client, scim, "delete", url(scim, "scim_user", user_id=person_id))
    assert response.status_code == 204
    assert response.content == b""
    assert "Content-Type" not in response.headers
    assert "Content-Length" not in response.headers or response["Content-Length"] == "0"


@pytest.mark.parametrize("name", ["scim_users", "scim_groups"])
@pytest.mark.parametrize("param", ["startIndex", "count"])
@pytest.mark.parametrize("value", ["abc", "1.5", "1e3", "1_0", "\u0663"])
def test_a_page_parameter_that_is_no_integer_is_invalid_value(client, scim, name, param, value):
    """RFC 7644 §3.4.2.4: startIndex and count are integers; §3.12 Table 9 gives
    invalidValue for a GET (§3.4.2) whose value is not of the type. Read as absent, a client
    asking for its third page got the first again; the same value in a SearchRequest body
    (§3.4.3) was already refused. Python's int() also took "1_0" and an Arabic-Indic three."""
    response = call(client, scim, "get", url(scim, name) + f"?{param}={value}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["schemas"], body["status"], body["scimType"]) == ([ERROR], "400", "invalidValue")
    assert param in body["detail"]


def test_a_page_parameter_with_a_sign_or_left_empty_is_still_read(client, scim):
    """A negative start is 1 and a negative count 0 (§3.4.2.4); "startIndex=" is absent."""
    assert call(client, scim, "post", url(scim), ada()).status_code == 201
    page = call(client, scim, "get", url(scim) + "?startIndex=-4&count=%2B1").json()
    assert (page["startIndex"], page["itemsPerPage"]) == (1, 1)
    page = call(client, scim, "get", url(scim) + "?startIndex=&count=-1").json()
    assert (page["startIndex"], page["itemsPerPage"], page["totalResults"]) == (1, 0, 2)


def _accepting(client, scim, accept: str, path=None):
    return client.get(
        path or url(scim), HTTP_AUTHORIZATION=f"Bearer {scim.clear}", HTTP_ACCEPT=accept
    )


@pytest.mark.parametrize("accept", ["application/json", "text/html, application/json;q=0.9"])
def test_a_client_accepting_only_json_is_answered_json(client, scim, accept):
    """RFC 7644 §3.8: a service provider "SHOULD support the header "Accept:
    application/json""; it was answered application/scim+json, a type the client did not
    list. The body is the same SCIM document (§8.1: both are JSON)."""
    listed = _accepting(client, scim, accept)
    assert listed.status_code == 200
    assert listed["Content-Type"] == "application/json"
    assert listed.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    assert "Accept" in listed["Vary"]
    missing = _accepting(client, scim, accept, url(scim, "scim_user", user_id="999999"))
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["schemas"] == [ERROR]


@pytest.mark.parametrize(
    "accept", ["application/scim+json", "*/*", "application/*", "application/xml", ""]
)
def test_scim_json_stays_the_default(client, scim, accept):
    """§3.8: "The format defaults to application/scim+json"; a type neither JSON is
    disregarded (RFC 9110 §12.5.1) rather than refused."""
    response = _accepting(client, scim, accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/scim+json"


def test_a_refused_token_is_answered_in_the_type_accepted(client, scim):
    response = client.get(
        url(scim), HTTP_AUTHORIZATION="Bearer nope", HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="scim"'


def _read(client, scim, path, method="get", **headers):
    return getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {scim.clear}", **headers)


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_read_is_held_to_its_preconditions_too(client, scim, method):
    """RFC 9110 §13.1.1: If-Match "MUST" be evaluated "prior to performing the method", and
    §13.2.2 has a false one answered 412, a false If-None-Match on a GET or HEAD 304. No ETag
    is kept, so `If-Match: "abc"` is false and `If-None-Match: *` false for a resource that
    exists; a read answered both 200, as if the client had asked nothing."""
    user = url(scim, "scim_user", user_id=call(client, scim, "post", url(scim), ada()).json()["id"])
    group = url(scim, "scim_group", group_id=scim.finance.pk)
    for path in (user, group):
        unmatched = _read(client, scim, path, method, HTTP_IF_MATCH='"abc"')
        assert unmatched.status_code == 412
        assert unmatched["Content-Type"] == "application/scim+json"
        unchanged = _read(client, scim, path, method, HTTP_IF_NONE_MATCH="*")
        assert unchanged.status_code == 304 and unchanged.content == b""
        assert unchanged["Cache-Control"] == "no-store"
        # RFC 9110 §8.6: a 304's Content-Length, if any, is the 200's; Django's
        # CommonMiddleware wrote 0
        assert "Content-Length" not in unchanged and "Content-Type" not in unchanged
        for holds in ({"HTTP_IF_MATCH": "*"}, {"HTTP_IF_NONE_MATCH": '"abc"'}):
            assert _read(client, scim, path, method, **holds).status_code == 200


def test_a_read_of_no_ones_user_is_still_404_whatever_its_preconditions(client, scim):
    missing = url(scim, "scim_user", user_id="99999")
    assert _read(client, scim, missing, HTTP_IF_MATCH='"abc"').status_code == 404
    assert _read(client, scim, missing, HTTP_IF_NONE_MATCH="*").status_code == 404


def test_attributes_with_excluded_attributes_say_so_in_scims_names(client, scim):
    """RFC 7644 §3.9: the two are mutually exclusive; the refusal said pydantic's "Value
    error, 'attributes' and 'excluded_attributes' …", a field name no client sends."""
    both = "?attributes=userName&excludedAttributes=title"
    for path in (url(scim) + both, url(scim, "scim_groups") + both):
        refused = call(client, scim, "get", path)
        assert refused.status_code == 400 and refused.json()["scimType"] == "invalidValue"
        assert refused.json()["detail"] == (
            "attributes and excludedAttributes are mutually exclusive: send one of them."
        )
    search = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "attributes": ["userName"],
        "excludedAttributes": ["title"],
    }
    for name in ("scim_users_search", "scim_groups_search"):
        refused = call(client, scim, "post", url(scim, name), search)
        assert refused.status_code == 400 and refused.json()["scimType"] == "invalidValue"
        assert "excluded_attributes" not in refused.json()["detail"]
