"""A live SCIM token's requests a minute: past SCIM_REQUESTS_PER_MINUTE it is answered 429
(RFC 6585 §4) with Retry-After, in the SCIM error format (RFC 7644 §3.12), and does nothing."""

from __future__ import annotations

import pytest

from provisioning.models import Identity
from provisioning.scim import tokens
from tests.scim.test_scim_endpoint import ERROR, ada, call, url

pytestmark = pytest.mark.django_db


def test_a_token_past_its_limit_is_a_scim_429_with_retry_after(client, scim, settings):
    settings.SCIM_REQUESTS_PER_MINUTE = 2
    codes = [call(client, scim, "get", url(scim)).status_code for _ in range(2)]
    assert codes == [200, 200]
    response = call(client, scim, "post", url(scim), ada())
    assert response.status_code == 429
    assert response["Content-Type"] == "application/scim+json"
    assert 1 <= int(response["Retry-After"]) <= 60
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == "429"
    assert not Identity.objects.filter(tenant=scim.tenant, username="ada@alpha.test").exists()


def test_each_token_has_its_own_count(client, scim, msp_admin, settings):
    settings.SCIM_REQUESTS_PER_MINUTE = 1
    assert call(client, scim, "get", url(scim)).status_code == 200
    assert call(client, scim, "get", url(scim)).status_code == 429
    _, other = tokens.issue(scim.tenant, "Entra ID", actor=msp_admin)
    assert call(client, scim, "get", url(scim), token=other).status_code == 200


def test_refused_tokens_past_their_limit_are_told_when_to_come_back(client, scim, settings):
    settings.SCIM_REFUSALS_PER_MINUTE = 1
    meta = {"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer scim_wrong"}
    assert client.get(url(scim), **meta).status_code == 401
    response = client.get(url(scim), **meta)
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
