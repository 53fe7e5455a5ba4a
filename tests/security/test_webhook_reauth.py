"""An outbound webhook is a standing copy of a tenant's events (the MSP's: every tenant's)
sent to an address, signed with a secret: like an API token it outlives the session that
made it. So making one, sending one elsewhere (its URL changed) and a new secret need the
password typed within REAUTH_MAX_AGE_SECONDS, as API and SCIM tokens and the HR webhook's
secret do: a session taken without the password cannot set up a feed of the clients' people
to an address of its choosing, nor take an existing one over."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from provisioning.outbound.models import WebhookEndpoint
from tests.factories import signed_in
from tests.outbound.support import make_endpoint

pytestmark = pytest.mark.django_db

HOOK = "https://psa.example.com/hooks/portal"
ELSEWHERE = "https://collector.example.net/in"
STALE = 301  # seconds since the password was typed: past REAUTH_MAX_AGE_SECONDS (300)


def tenant_url(page: str, tenant, **kwargs) -> str:
    return reverse(f"outbound_tenant_{page}", kwargs={"tenant": tenant.slug, **kwargs})


def to_password_page(response, back_to: str) -> bool:
    expected = f"{reverse('reauth')}?{urlencode({'next': back_to})}"
    return response.status_code == 302 and response["Location"] == expected


def test_making_an_endpoint_asks_for_the_password_again(client, alpha):
    signed_in(client, alpha.technician, seconds_ago=STALE)
    create = tenant_url("create", alpha.tenant)
    assert to_password_page(client.get(create), create)
    form = {"name": "Mine", "url": ELSEWHERE, "kinds": ["job.failed"]}
    assert to_password_page(client.post(create, form), create)
    assert not WebhookEndpoint.objects.exists()
    signed_in(client, alpha.technician)
    response = client.post(create, form)
    assert response.status_code == 200 and "whsec_" in response.content.decode()


def test_an_msp_wide_endpoint_too(client, msp_admin):
    signed_in(client, msp_admin, seconds_ago=STALE)
    create = reverse("outbound_msp_create")
    form = {"name": "Mine", "url": ELSEWHERE, "kinds": ["job.failed"]}
    assert to_password_page(client.post(create, form), create)
    assert not WebhookEndpoint.objects.exists()


def test_sending_an_endpoint_elsewhere_asks_for_the_password_again(client, alpha):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    signed_in(client, alpha.technician, seconds_ago=STALE)
    edit = tenant_url("edit", alpha.tenant, endpoint_id=endpoint.pk)
    form = {"name": "PSA", "url": ELSEWHERE, "kinds": ["job.failed"], "confirm_url": "on"}
    assert to_password_page(client.post(edit, form), edit)
    endpoint.refresh_from_db()
    assert endpoint.url == HOOK
    # A new name at the same address is no new destination: no password needed.
    assert client.post(edit, form | {"name": "PSA tickets", "url": HOOK}).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.url) == ("PSA tickets", HOOK)


def test_a_new_secret_asks_for_the_password_again(client, alpha):
    endpoint, secret = make_endpoint(alpha.tenant, HOOK)
    signed_in(client, alpha.technician, seconds_ago=STALE)
    rotate = tenant_url("rotate", alpha.tenant, endpoint_id=endpoint.pk)
    detail = tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk)
    assert to_password_page(client.post(rotate), detail)
    endpoint.refresh_from_db()
    assert endpoint.secrets() == [secret]


def test_another_tenants_endpoint_is_still_404_first(client, alpha, bravo):
    theirs, _ = make_endpoint(bravo.tenant, HOOK)
    signed_in(client, alpha.technician, seconds_ago=STALE)
    assert client.post(tenant_url("rotate", alpha.tenant, endpoint_id=theirs.pk)).status_code == 404
    assert client.get(tenant_url("create", bravo.tenant)).status_code == 404


def test_the_password_page_says_why_for_more_than_signing_in(client, alpha):
    signed_in(client, alpha.technician, seconds_ago=STALE)
    response = client.get(client.get(tenant_url("create", alpha.tenant))["Location"])
    assert response.status_code == 200
    assert "outlives this session" in response.content.decode()
