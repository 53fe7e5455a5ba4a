"""HEAD wherever GET is (RFC 9110 §9.3.2): the portal's pages, the API and the SCIM endpoint
answer it as they answer GET, with the same status and headers and no body, after the same
authentication and the same scoping; a monitor or a client that probes with HEAD gets no
405."""

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.test import Client, RequestFactory
from django.urls import resolve, reverse

from portal.models import Role
from tests.api.conftest import token_for
from tests.scim.conftest import scim_world

pytestmark = pytest.mark.django_db

SAME_HEADERS = ("Content-Type", "Content-Length", "Cache-Control", "WWW-Authenticate", "Allow")


def assert_head_is_get(client: Client, path: str, headers: dict) -> int:
    get = client.get(path, headers=headers)
    get.content  # noqa: B018 - the body is read, its length known
    head = client.head(path, headers=headers)
    assert head.status_code == get.status_code, path
    for name in SAME_HEADERS:
        assert head.get(name) == get.get(name), f"{name} of HEAD {path}"
    assert head.content == b"", path
    return head.status_code


def test_the_api_answers_head_as_get(alpha, bravo):
    bearer = {"Authorization": f"Bearer {token_for(alpha.technician)}"}
    client = Client()
    for path in (
        "/api/v1/tenants",
        f"/api/v1/tenants/{alpha.tenant.slug}",
        "/api/v1/people",
        f"/api/v1/people/{alpha.identity.pk}",
        f"/api/v1/jobs/{alpha.job.pk}",
    ):
        assert assert_head_is_get(client, path, bearer) == 200
    # Scoped as GET: the other tenant's objects do not exist for this token.
    for path in (f"/api/v1/tenants/{bravo.tenant.slug}", f"/api/v1/people/{bravo.identity.pk}"):
        assert assert_head_is_get(client, path, bearer) == 404


@pytest.mark.parametrize("token", [None, "mpp_not-a-token"])
def test_head_on_the_api_needs_a_live_token(alpha, token):
    bearer = {"Authorization": f"Bearer {token}"} if token else {}
    assert assert_head_is_get(Client(), "/api/v1/tenants", bearer) == 401


def test_head_on_a_post_only_api_route_is_405_and_get_routes_list_head(alpha):
    bearer = {"Authorization": f"Bearer {token_for(alpha.technician)}"}
    client = Client()
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    assert client.head(path, headers=bearer).status_code == 405
    response = client.delete("/api/v1/people", headers=bearer)
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


def test_the_scim_endpoint_answers_head_as_get(alpha, bravo, msp_admin):
    scim = scim_world(alpha, msp_admin)
    bearer = {"Authorization": f"Bearer {scim.clear}"}
    client = Client()
    for name, kwargs in [
        ("scim_service_provider_config", {}),
        ("scim_schemas", {}),
        ("scim_resource_types", {}),
        ("scim_users", {}),
        ("scim_groups", {}),
        ("scim_group", {"group_id": str(scim.world.template.pk)}),
    ]:
        path = reverse(name, kwargs={"tenant": scim.tenant.slug, **kwargs})
        assert assert_head_is_get(client, path, bearer) == 200, path
    # Another tenant's endpoint, and another tenant's group, do not exist for this token.
    other = scim_world(bravo, msp_admin)
    path = reverse("scim_users", kwargs={"tenant": other.tenant.slug})
    assert assert_head_is_get(client, path, bearer) == 404
    path = reverse(
        "scim_group", kwargs={"tenant": scim.tenant.slug, "group_id": str(bravo.template.pk)}
    )
    assert assert_head_is_get(client, path, bearer) == 404
    path = reverse("scim_users", kwargs={"tenant": scim.tenant.slug})
    assert assert_head_is_get(client, path, {"Authorization": "Bearer nope"}) == 401


def test_head_on_a_post_only_scim_resource_is_405_and_get_resources_list_head(alpha, msp_admin):
    scim = scim_world(alpha, msp_admin)
    bearer = {"Authorization": f"Bearer {scim.clear}"}
    client = Client()
    search = reverse("scim_users_search", kwargs={"tenant": scim.tenant.slug})
    response = client.head(search, headers=bearer)
    assert response.status_code == 405 and response["Allow"] == "POST"
    groups = reverse("scim_groups", kwargs={"tenant": scim.tenant.slug})
    assert client.post(groups, headers=bearer).get("Allow") == "GET, HEAD"


def test_the_body_is_left_out_by_the_view_not_only_by_the_test_client(alpha):
    """Django's test client drops a HEAD answer's body itself; a WSGI server need not."""
    path = "/api/v1/tenants"
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(alpha.technician)}"}
    view = resolve(path).func
    get = view(RequestFactory().get(path, **headers))
    head = view(RequestFactory().head(path, **headers))
    assert head.status_code == 200 and head.content == b"" and get.content
    assert head["Content-Length"] == str(len(get.content))


def pages_of(world) -> list[str]:
    slug = world.tenant.slug
    return [
        reverse("dashboard"),
        reverse("tenant_detail", kwargs={"tenant": slug}),
        reverse("identity_detail", kwargs={"tenant": slug, "identity_id": world.identity.pk}),
        reverse("job_detail", kwargs={"job_id": world.job.pk}),
        reverse("onboard", kwargs={"tenant": slug}),  # a form page: GET and POST
    ]


def test_pages_answer_head_as_get(client, alpha):
    client.force_login(alpha.technician)
    for path in pages_of(alpha):
        assert assert_head_is_get(client, path, {}) == 200


def test_head_on_a_page_is_scoped_and_role_checked_as_get(client, alpha, bravo):
    client.force_login(bravo.technician)
    for path in pages_of(alpha)[1:]:  # another tenant's objects do not exist
        assert assert_head_is_get(client, path, {}) == 404, path
    client.force_login(alpha.people[Role.ACCOUNT_MANAGER])  # reads reports, onboards no one
    onboard = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    assert assert_head_is_get(client, onboard, {}) == 403
    client.logout()
    head = client.head(pages_of(alpha)[2])
    assert head.status_code == 302 and head["Location"].startswith(reverse("login"))


def test_head_on_a_post_only_page_is_405_naming_what_it_takes(client, alpha):
    client.force_login(alpha.technician)
    retry = reverse("job_retry", kwargs={"job_id": alpha.job.pk})
    response = client.head(retry)
    assert response.status_code == 405 and response["Allow"] == "POST"
    dashboard = client.post(reverse("dashboard"))
    assert dashboard.status_code == 405 and dashboard["Allow"] == "GET, HEAD"


def test_a_page_answers_head_without_its_body_on_the_wire(client, alpha):
    """As a WSGI server gets it: the test client's handler without its own removal of a
    HEAD answer's body (`conditional_content_removal`)."""
    client.force_login(alpha.technician)
    path = pages_of(alpha)[2]
    get = client.get(path)  # the handler's middleware is loaded from here on
    request = WSGIRequest(RequestFactory().head(path).environ)
    request.COOKIES = {name: morsel.value for name, morsel in client.cookies.items()}
    head = client.handler.get_response(request)
    assert head.status_code == 200 and head.content == b""
    assert head["Content-Length"] == str(len(get.content))
