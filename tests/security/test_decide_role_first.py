"""Whoever may not decide on an access request hears 403 before anything they sent is read:
an empty or malformed decision from a technician, an account manager or the requester is
refused for who they are (as every other view refuses), never answered 400/422 as if fixing
the input would let them through. On the page (full and htmx) and through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Role
from provisioning.models import AccessRequest
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_person
from tests.provisioning.test_views_access import HX, file, requestable

pytestmark = pytest.mark.django_db

BAD_BODIES = [{}, {"decision": "approve", "reason": "   "}, {"decision": "maybe", "reason": "x"}]


@pytest.fixture
def pending(alpha, co_admin):
    return file(alpha, requestable(alpha, "Alpha VPN"), by=alpha.client_admin)


@pytest.fixture
def co_admin(alpha):
    return make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])


def decide_url(world, access_request) -> str:
    kwargs = {"tenant": world.tenant.slug, "request_id": access_request.pk}
    return reverse("access_request_decide", kwargs=kwargs)


@pytest.mark.parametrize("who", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, "requester"])
@pytest.mark.parametrize("body", BAD_BODIES)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_wrong_role_gets_403_whatever_it_sent_on_the_page(
    client, alpha, pending, who, body, htmx
):
    person = alpha.client_admin if who == "requester" else alpha.people[who]
    client.force_login(person)
    response = client.post(decide_url(alpha, pending), body, **(HX if htmx else {}))
    assert response.status_code == 403, (who, body, response.status_code)
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING


def test_the_approver_still_hears_400_for_a_bad_decision(client, alpha, pending, co_admin):
    client.force_login(co_admin)
    response = client.post(decide_url(alpha, pending), BAD_BODIES[1], **HX)
    assert response.status_code == 400
    assert "Give a reason." in response.content.decode()


@pytest.mark.parametrize("who", [Role.TECHNICIAN, "requester"])
@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_wrong_role_gets_403_whatever_it_sent_through_the_api(alpha, pending, who, body):
    person = alpha.client_admin if who == "requester" else alpha.people[who]
    api = ApiClient(token_for(person))
    response = api.post(f"/api/v1/access-requests/{pending.pk}/decision", body)
    assert response.status_code == 403, (who, body, response.status_code, response.content)
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING
