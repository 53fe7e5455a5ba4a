"""The API as RFC 9110 asks of it beyond its routes: a body in a format it does not take is
415, and the schema names every status a POST can answer."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from provisioning.api.endpoints_lifecycle import OnboardIn
from provisioning.forms import usage_location_cleaned
from provisioning.models import Identity
from tenants.forms import LinesField

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def _onboarding(alpha) -> dict:
    return {"first_name": "Ada", "last_name": "Lovelace", "role_templates": [alpha.template.pk]}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_of_another_media_type_is_415_and_changes_nothing(alpha, msp_admin, content_type):
    """RFC 9110 §15.5.16. A JSON body sent as text/plain was read as JSON (and a form
    answered 400 'Cannot parse request body'); the client is told which type to send."""
    client = ApiClient(token_for(msp_admin))
    response = client.client.post(
        f"/api/v1/tenants/{alpha.tenant.slug}/people",
        json.dumps(_onboarding(alpha)),
        content_type=content_type,
        headers={**client.headers, "Idempotency-Key": "k-415"},
    )
    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"
    assert response["Accept"] == "application/json"
    assert response.json()["status"] == 415
    assert not Identity.objects.filter(first_name="Ada").exists()


def test_without_a_token_a_body_of_another_type_is_still_401(alpha):
    """The token is checked first: 415 tells nothing to someone who may not call at all."""
    response = ApiClient(None).client.post(
        f"/api/v1/tenants/{alpha.tenant.slug}/people", "x=1", content_type="text/plain"
    )
    assert response.status_code == 401


def test_json_with_a_charset_or_a_json_suffix_is_taken(alpha, msp_admin):
    client = ApiClient(token_for(msp_admin))
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.client.post(
            f"/api/v1/tenants/{alpha.tenant.slug}/people",
            json.dumps({"first_name": "Ada"}),
            content_type=content_type,
            headers={**client.headers, "Idempotency-Key": content_type},
        )
        assert response.status_code == 422  # read, and found wanting: not refused unread


def test_the_schema_names_413_and_415_on_every_post(client):
    schema = client.get("/api/v1/openapi.json").json()
    posts = [(path, ops["post"]) for path, ops in schema["paths"].items() if "post" in ops]
    assert posts
    for path, operation in posts:
        for status in ("413", "415"):
            content = operation["responses"].get(status, {}).get("content", {})
            assert "application/problem+json" in content, (path, status)


def test_every_problem_type_leads_to_a_page_that_documents_it(alpha, msp_admin, client):
    """RFC 9457 §3.1.1: a type, dereferenced, SHOULD document the problem for a person. The
    types named docs/api.md's fragments, which the portal does not serve: a 404 page."""
    caller = ApiClient(token_for(msp_admin))
    problems = [
        ApiClient(None).get("/api/v1/tenants"),
        caller.get("/api/v1/no/such/route"),
        caller.get("/api/v1/people/999999"),
        caller.get("/api/v1/tenants", cursor="x"),
        caller.post(f"/api/v1/tenants/{alpha.tenant.slug}/people", {}, key="k"),
    ]
    for problem in problems:
        path, _, fragment = problem.json()["type"].partition("#")
        page = client.get(path)  # signed out: the page is for any reader
        assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
        assert f'id="{fragment}"' in page.content.decode(), fragment


def test_the_headers_a_refusal_carries_are_in_the_schema_and_match_it(alpha, msp_admin, settings):
    """A 401's WWW-Authenticate, a 429's Retry-After and a 415's Accept are what a client acts
    on: the schema names them for each operation that can answer so, and the answers fit."""
    import jsonschema_rs

    schema = ApiClient(None).client.get("/api/v1/openapi.json").json()
    path = f"/api/v1/tenants/{alpha.tenant.slug}/people"
    settings.API_REQUESTS_PER_MINUTE = 1
    client = ApiClient(token_for(msp_admin))
    answers = {
        ("/api/v1/tenants/{slug}/people", "post", "401"): ApiClient(None).post(path, {}),
        ("/api/v1/tenants/{slug}/people", "post", "415"): client.client.post(
            path, "x=1", content_type="text/plain", headers=client.headers
        ),
        ("/api/v1/tenants/{slug}", "get", "429"): client.get(
            f"/api/v1/tenants/{alpha.tenant.slug}"
        ),
    }
    for (route, method, status), response in answers.items():
        assert str(response.status_code) == status, (route, status)
        documented = schema["paths"][route][method]["responses"][status].get("headers", {})
        assert documented, (route, method, status)
        for name, header in documented.items():
            value = response[name]
            value = int(value) if header["schema"]["type"] == "integer" else value
            assert jsonschema_rs.is_valid(header["schema"], value), (status, name, value)
    for operations in schema["paths"].values():
        for operation in operations.values():
            for status in ("401", "429"):
                assert operation["responses"][status].get("headers"), (
                    operation["operationId"],
                    status,
                )


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_the_document_and_its_page_take_get_and_head_only(msp_admin, path, method):
    """ninja's views of the OpenAPI document and its reference page answered every method
    with the document (an OPTIONS or a PUT got 200 and 115 kB), or a POST without a CSRF
    token with the CSRF failure page: RFC 9110 §15.5.6, a 405 with Allow, as every route of
    the API answers."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(msp_admin)
    response = getattr(client, method)(path)
    assert response.status_code == 405, (method, path, response.status_code)
    assert response["Allow"] == "GET, HEAD"
    assert response["Content-Type"] == "application/problem+json"
    assert client.get(path).status_code == client.head(path).status_code == 200


def test_an_accepted_write_s_location_is_in_the_schema_and_matches_it(alpha, msp_admin):
    """Every 202 sends `Location`, the job that does it (RFC 9110 §10.2.2): the schema did not
    name it, so a client generated from it could not read it, and a conformance check saw
    an undocumented header."""
    import jsonschema_rs

    schema = ApiClient(None).client.get("/api/v1/openapi.json").json()
    response = ApiClient(token_for(msp_admin)).post(
        f"/api/v1/people/{alpha.identity.pk}/offboard", {"reset_password": True}
    )
    assert response.status_code == 202, response.content
    assert response["Location"] == response.json()["job"]["url"]
    accepted = [
        operation["responses"]["202"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        if "202" in operation["responses"]
    ]
    assert len(accepted) == 6  # onboard, change, offboard, restore, retry, cancel
    for answer in accepted:
        header = answer.get("headers", {}).get("Location")
        assert header, answer
        assert jsonschema_rs.is_valid(header["schema"], response["Location"])


def test_every_request_body_has_an_example_its_schema_takes():
    """A reader of the reference, and schemathesis' examples phase, start from the document's
    examples: it had none, and that phase tested nothing."""
    import jsonschema_rs

    schema = ApiClient(None).client.get("/api/v1/openapi.json").json()
    bodies = [
        operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        for operations in schema["paths"].values()
        for operation in operations.values()
        if "requestBody" in operation
    ]
    assert len(bodies) == 6
    for ref in bodies:
        body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert body.get("examples"), ref
        check = jsonschema_rs.validator_for({"$ref": ref, "components": schema["components"]})
        for example in body["examples"]:
            assert check.is_valid(example), (ref, example)


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_the_apis_root_is_a_no_route_problem(msp_admin, method):
    """`/api/v1/` is under the API, whose every unknown path is a 404 problem (docs/api.md);
    its root was ninja's own view, whose Http404 became the portal's HTML page."""
    client = ApiClient(token_for(msp_admin))
    response = getattr(client.client, method)("/api/v1/", headers=client.headers)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == "/api/problems#problem-no-route"
    assert "docs_url" not in response.json()["detail"]


def test_the_document_refuses_the_licence_choices_the_api_refuses(client, alpha, msp_admin):
    """schemathesis' stateful run sent `license_choices` with a key holding a control
    character, valid by the document (a key that fails `patternProperties` is left free in
    JSON Schema) and refused by the API (422): the key's rule is the document's
    `propertyNames` now, and every value a string."""
    document = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for name in ("OnboardIn", "ChangeIn"):
        choices = document[name]["properties"]["license_choices"]
        assert not jsonschema_rs.is_valid(choices, {"\x1a": "SPE_E3"})
        assert not jsonschema_rs.is_valid(choices, {"\x1a": 5})
        assert jsonschema_rs.is_valid(choices, {"SPE_E5": "SPE_E3", "EMS": ""})
    refused = ApiClient(token_for(msp_admin)).post(
        f"/api/v1/tenants/{alpha.tenant.slug}/people",
        {**_onboarding(alpha), "license_choices": {"\x1a": "SPE_E3"}},
        key="k-choices",
    )
    assert refused.status_code == 422


def _change_title(client: ApiClient, alpha, **headers):
    return client.client.post(
        f"/api/v1/people/{alpha.identity.pk}/change",
        json.dumps({"job_title": "Lead"}),
        content_type="application/json",
        headers={**client.headers, **headers},
    )


@pytest.mark.parametrize("header,value", [("If-Match", '"abc"'), ("If-None-Match", "*")])
def test_a_write_whose_precondition_no_version_meets_is_412_and_changes_nothing(
    alpha, msp_admin, header, value
):
    """RFC 9110 §13.1.1: a server that gets If-Match "MUST evaluate the condition" before the
    method and not perform it when false. The API keeps no ETags, so no tag matches, and a
    person exists, so If-None-Match: * is false; a change guarded by either was accepted
    (202, a job) as if unguarded."""
    client = ApiClient(token_for(msp_admin))
    refused = _change_title(client, alpha, **{header: value})
    assert refused.status_code == 412
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["type"] == "/api/problems#problem-precondition"
    alpha.identity.refresh_from_db()
    assert alpha.identity.attributes.get("job_title") != "Lead"
    # `*` holds: the route's own rules answer (this joiner's join is still running: 409)
    assert _change_title(client, alpha, **{"If-Match": "*"}).status_code == 409


def test_a_read_is_held_to_its_preconditions_too(alpha, msp_admin):
    client = ApiClient(token_for(msp_admin))
    path = f"/api/v1/people/{alpha.identity.pk}"
    unmatched = client.client.get(path, headers={**client.headers, "If-Match": '"abc"'})
    assert unmatched.status_code == 412
    unchanged = client.client.get(path, headers={**client.headers, "If-None-Match": "*"})
    assert unchanged.status_code == 304 and unchanged.content == b""
    # RFC 9110 §8.6 and §15.4.5: no Content-Length but the 200's, and no content to type
    assert "Content-Length" not in unchanged and "Content-Type" not in unchanged
    assert (
        client.client.get(path, headers={**client.headers, "If-None-Match": '"x"'}).status_code
        == 200
    )


def test_without_a_token_a_precondition_is_still_401(alpha):
    response = ApiClient(None).client.get("/api/v1/tenants", headers={"If-Match": '"abc"'})
    assert response.status_code == 401


def test_the_document_names_412_on_every_operation(client):
    document = client.get("/api/v1/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert "412" in operation["responses"], (method, path)


LINES = [
    "VPN Users",
    "\tVPN Users ",
    "VPN\tUsers",
    "VPN\x1fUsers",
    "VPN\x0bUsers",
    "VPN\x1e\tUsers",
    "VPN\x85Users",
    "VPN \t",
    "VPN\x01",
    "VPN\u00a0Users",
    "\x1fVPN",
    "<b>",
]


@pytest.mark.parametrize("line", LINES)
def test_the_document_takes_an_extra_group_exactly_when_the_form_does(line):
    """schemathesis sent an extra group `…\\t]`, valid by the document's pattern and refused
    by the form ("A line holds a control character"): the form splits the lines at the line
    breaks Python knows (\\v \\f \\x1c-\\x1e \\x85), trims each, and refuses a control
    character left inside one, so a tab or U+001F only at a line's ends."""
    schema = OnboardIn.model_json_schema()["properties"]["extra_groups"]["items"]
    try:
        LinesField().clean(line)
        form_takes = True
    except ValidationError:
        form_takes = False
    assert jsonschema_rs.is_valid(schema, line) == form_takes


@pytest.mark.parametrize("code", ["GB", "gb", "Us", "XY", "UK", "EL", "", "  ", "G", "g "])
def test_the_document_takes_a_usage_location_exactly_when_the_form_does(code):
    """schemathesis sent `usage_location` "XY", two letters as the document said and no
    country (the form: "XY is not an ISO 3166 country code"); the document lists the codes."""
    schema = OnboardIn.model_json_schema()["properties"]["usage_location"]
    try:
        usage_location_cleaned(code)
        form_takes = True
    except ValidationError:
        form_takes = False
    assert jsonschema_rs.is_valid(schema, code) == form_takes
