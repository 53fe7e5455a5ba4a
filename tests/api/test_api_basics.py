"""The API's frame: tokens, scope, problems, pages, rate limits, the schema."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning.api import tokens
from provisioning.api.models import ApiToken

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def test_without_a_token_the_api_answers_401_as_a_problem(alpha):
    response = ApiClient(None).get("/api/v1/tenants")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["status"] == 401


@pytest.mark.parametrize("clear", ["mpp_nonsense", "not-even-ours", "mpp_" + "x" * 200])
def test_an_unknown_token_is_401(alpha, clear):
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401


def test_a_revoked_or_expired_token_is_401(alpha):
    clear = token_for(alpha.technician)
    token = ApiToken.objects.get(token_sha256=tokens.digest(clear))
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 200
    assert tokens.revoke(token, actor=alpha.technician)
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401

    clear = token_for(alpha.technician)
    ApiToken.objects.filter(token_sha256=tokens.digest(clear)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401


def test_a_token_of_a_deactivated_person_is_401(alpha):
    clear = token_for(alpha.technician)
    alpha.technician.is_active = False
    alpha.technician.save()
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401


def test_only_the_clear_tokens_digest_is_kept_and_its_issue_is_audited(alpha):
    clear = token_for(alpha.technician, name="HaloPSA")
    token = ApiToken.objects.get(user=alpha.technician)
    assert clear not in (token.token_sha256, token.prefix) and token.prefix == clear[:12]
    event = AuditEvent.objects.get(action="api_token.create")
    assert "HaloPSA" in event.target_display and clear not in str(event.after)


def test_a_person_lists_only_their_own_tenants(alpha, bravo, api_as):
    slugs = [t["slug"] for t in api_as(alpha.technician).get("/api/v1/tenants").json()["items"]]
    assert slugs == [alpha.tenant.slug]


def test_another_tenant_is_404_whatever_the_role(alpha, bravo, api_as):
    for person in (alpha.technician, alpha.account_manager, alpha.client_admin):
        response = api_as(person).get(f"/api/v1/tenants/{bravo.tenant.slug}")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"


def test_a_token_named_for_some_tenants_sees_only_those(alpha, bravo, msp_admin, api_as):
    client = api_as(msp_admin, tenants=[bravo.tenant])
    slugs = [t["slug"] for t in client.get("/api/v1/tenants").json()["items"]]
    assert slugs == [bravo.tenant.slug]
    assert client.get(f"/api/v1/tenants/{alpha.tenant.slug}").status_code == 404


def test_a_token_cannot_outlive_its_persons_access_to_a_tenant(alpha, api_as):
    client = api_as(alpha.technician, tenants=[alpha.tenant])
    alpha.technician.tenantassignment_set.all().delete()
    assert client.get(f"/api/v1/tenants/{alpha.tenant.slug}").status_code == 404


def test_a_token_made_for_some_tenants_does_not_widen_when_they_are_gone(
    alpha, bravo, msp_admin, api_as
):
    """Its tenants' rows gone (a tenant deleted by hand: the list empties), it reaches none,
    not every tenant as a token made for every tenant does."""
    from provisioning.api.models import ApiToken

    client = api_as(msp_admin, tenants=[bravo.tenant])
    ApiToken.objects.get().tenants.clear()
    assert client.get("/api/v1/tenants").json()["items"] == []
    assert client.get(f"/api/v1/tenants/{alpha.tenant.slug}").status_code == 404


def test_cursor_pages_walk_every_row_once(alpha, msp_admin, api_as):
    from tenants.models import Tenant

    for n in range(7):
        Tenant.objects.create(name=f"Extra {n}", slug=f"extra-{n}", primary_domain=f"x{n}.test")
    client = api_as(msp_admin)
    seen, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = client.get("/api/v1/tenants", **params).json()
        seen += [t["slug"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(Tenant.objects.values_list("slug", flat=True))
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(
    "params", [{"cursor": "%%%"}, {"cursor": "\x00"}, {"limit": 0}, {"limit": 10_000}]
)
def test_a_bad_page_query_is_a_4xx_problem(alpha, api_as, params):
    response = api_as(alpha.technician).get("/api/v1/tenants", **params)
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"


def test_a_token_over_its_rate_is_429_with_retry_after(alpha, api_as, settings):
    settings.API_REQUESTS_PER_MINUTE = 3
    client = api_as(alpha.technician)
    codes = [client.get("/api/v1/tenants").status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200]
    assert codes[3] == 429
    response = client.get("/api/v1/tenants")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response.json()["status"] == 429


def test_the_schema_is_openapi_3_1_and_every_operation_needs_a_token(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security"), f"{method.upper()} {path} is open"


def test_the_schema_anyone_may_ask_for_is_built_once(client, monkeypatch):
    """Building the OpenAPI document costs some 100 ms of CPU, and anyone, without a token,
    may ask for it: it was built for every request, so a few idle connections kept the web
    workers busy (attack21). It is built once per process; each asker gets the same."""
    import ninja.main

    real_get_schema, builds = ninja.main.get_schema, []

    def counted(*args, **kwargs):
        builds.append(1)
        return real_get_schema(*args, **kwargs)

    monkeypatch.setattr(ninja.main, "get_schema", counted)
    first = client.get("/api/v1/openapi.json")
    again = client.get("/api/v1/openapi.json")
    assert len(builds) <= 1
    assert first.content == again.content


def test_a_refused_token_is_audited_with_no_more_of_it_than_its_prefix(alpha):
    clear = token_for(alpha.technician)
    token = ApiToken.objects.get(token_sha256=tokens.digest(clear))
    tokens.revoke(token, actor=alpha.technician)
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401
    refused = AuditEvent.objects.get(action="api_token.refuse")
    assert refused.result == "denied" and refused.target_display == clear[:12]
    assert clear[12:] not in str(refused.after) + refused.target_display

    assert ApiClient("someone-elses-secret-value").get("/api/v1/tenants").status_code == 401
    assert (
        "someone" not in AuditEvent.objects.filter(action="api_token.refuse").last().target_display
    )


def test_an_address_sending_refused_tokens_is_slowed_but_a_live_token_is_not(alpha, settings):
    settings.API_REFUSALS_PER_MINUTE = 3
    guesser = "198.51.100.23"
    codes = [
        ApiClient(f"mpp_guess{n}", guesser).get("/api/v1/tenants").status_code for n in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]
    assert AuditEvent.objects.filter(action="api_token.refuse").count() == 3  # no more rows
    live = ApiClient(token_for(alpha.technician), guesser)
    assert live.get("/api/v1/tenants").status_code == 200
