"""Hostile requests to the API frame: malformed JSON, the wrong content type, a body over
the limit, too many query fields, huge headers. Each is a 4xx problem, never a 500. Checked
on a small API of the same frame (so it holds whatever endpoints exist) and on every POST
operation of the real schema."""

import re

import pytest
from django.test import Client, RequestFactory
from ninja import NinjaAPI, Schema
from pydantic import Field

from provisioning.api import problems

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

frame = NinjaAPI(urls_namespace="api_frame_test", docs_url=None, openapi_url=None)
problems.install(frame)


class ThingIn(Schema):
    name: str = Field(max_length=10)


@frame.post("/things")
def make_thing(request, thing: ThingIn):
    return {"name": thing.name}


def call_frame(body: bytes, content_type: str = "application/json", **extra):
    pattern = next(p for p in frame.urls[0] if str(p.pattern) == "things")
    request = RequestFactory().generic("POST", "/things", body, content_type=content_type, **extra)
    return pattern.callback(request)


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"


HOSTILE_BODIES = [
    (b"{not json", "application/json", 400),
    (b"\xff\xfe\x00", "application/json", 400),
    (b"name=x", "application/x-www-form-urlencoded", 400),
    (b'["a list"]', "application/json", 422),
    (b'{"name": "far too long a name"}', "application/json", 422),
    (b'{"name": 12}', "text/plain", 422),
]


@pytest.mark.parametrize(("body", "content_type", "status"), HOSTILE_BODIES)
def test_a_hostile_body_is_a_4xx_problem(body, content_type, status):
    assert_problem(call_frame(body, content_type), status)


def test_a_good_body_still_works():
    assert call_frame(b'{"name": "ok"}').status_code == 200


def test_a_body_over_the_limit_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert_problem(call_frame(b'{"name": "' + b"x" * 5000 + b'"}'), 413)


def test_too_many_query_fields_is_400(alpha, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    query = "&".join(f"f{n}=1" for n in range(50))
    response = ApiClient(token_for(alpha.technician)).client.get(
        f"/api/v1/people?{query}",
        headers={"Authorization": f"Bearer {token_for(alpha.technician)}"},
    )
    assert_problem(response, 400)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer " + "x" * 100_000},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer mpp_\x00"},
        {"X-Anything": "y" * 100_000},
    ],
)
def test_huge_or_odd_headers_are_401_not_500(alpha, headers):
    response = Client().get("/api/v1/tenants", headers=headers)
    assert_problem(response, 401)


def test_every_post_operation_refuses_hostile_bodies_with_problems(alpha, msp_admin):
    """The real schema's POST operations (added by other endpoints) with the same bodies."""
    client = ApiClient(token_for(msp_admin))
    schema = Client().get("/api/v1/openapi.json").json()
    for path, operations in schema["paths"].items():
        if "requestBody" not in operations.get("post", {}):
            continue  # a POST without a body never reads one
        url = path.replace("{slug}", alpha.tenant.slug).replace("{id}", str(alpha.job.pk))
        url = re.sub(r"\{[^}]+\}", "1", url)  # any other parameter: some id
        for body, content_type, _status in HOSTILE_BODIES:
            response = client.client.post(
                url, body, content_type=content_type, headers=client.headers
            )
            assert 400 <= response.status_code < 500, f"POST {url} {body!r}"
            assert response["Content-Type"] == "application/problem+json", f"POST {url}"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/people/1/nope/deeper", "/api/v1/x%00"])
def test_a_path_that_is_no_route_is_a_404_problem(path):
    assert_problem(Client().get(path), 404)
    assert_problem(Client().post(path, "{}", content_type="application/json"), 404)


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
def test_a_method_a_route_does_not_take_is_a_405_problem(alpha, method):
    client = ApiClient(token_for(alpha.technician))
    response = getattr(client.client, method)("/api/v1/people", headers=client.headers)
    assert_problem(response, 405)
    assert response["Allow"] == "GET, HEAD"
    # The detail names what was refused and defers to Allow (it said "This route takes GET."
    # beside an Allow of GET, HEAD).
    detail = response.json()["detail"]
    assert method.upper() in detail and "Allow" in detail


def test_the_api_takes_no_csrf_token(alpha):
    """A token, not a session cookie, authenticates: the CSRF check does not apply."""
    client = Client(enforce_csrf_checks=True)
    headers = {"Authorization": f"Bearer {token_for(alpha.technician)}"}
    assert_problem(client.post("/api/v1/people", "{}", "application/json", headers=headers), 405)
