"""A client admin never approves access for themselves: the request's person, found by the
address their portal account has (set by an MSP admin on the staff page), is no approver of
it, however it was filed. Four eyes are the requester's and an approver's, and the approver is
not the one who gets the access (Microsoft Entra entitlement management: "approvers can't
approve their own requests"; the requestor there is the person the access is for)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.models import Role
from provisioning.access import services as ar
from provisioning.models import AccessRequest
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_person
from tests.provisioning.test_views_access import file, requestable

pytestmark = pytest.mark.django_db


@pytest.fixture
def admins_own(alpha):
    """Alpha's client admin's own person in alpha's directory, their portal address theirs."""
    person = alpha.client_admin
    person.email = alpha.identity.email.upper()  # addresses compare without case
    person.save(update_fields=["email"])
    return alpha.identity


@pytest.fixture
def co_admin(alpha):
    return make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])


def decide_url(world, pending) -> str:
    kwargs = {"tenant": world.tenant.slug, "request_id": pending.pk}
    return reverse("access_request_decide", kwargs=kwargs)


def test_the_person_the_access_is_for_cannot_approve_it_on_the_page(
    client, alpha, admins_own, co_admin
):
    pending = file(alpha, requestable(alpha, "Alpha Admins"), identity=admins_own)
    client.force_login(alpha.client_admin)
    response = client.post(decide_url(alpha, pending), {"decision": "approve", "reason": "me"})
    assert response.status_code == 403, response.status_code
    assert "for you" in response.content.decode()
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING
    assert not ar.waiting_for(alpha.client_admin).filter(pk=pending.pk).exists()
    with pytest.raises(ar.AccessRequestError):
        ar.approve(pending, actor=alpha.client_admin, reason="me")
    # the other client admin decides it
    assert ar.waiting_for(co_admin).filter(pk=pending.pk).exists()
    ar.approve(pending, actor=co_admin, reason="fine")
    assert AccessRequest.objects.get(pk=pending.pk).status != AccessRequest.Status.PENDING


def test_the_person_the_access_is_for_cannot_approve_it_through_the_api(
    alpha, admins_own, co_admin
):
    pending = file(alpha, requestable(alpha, "Alpha Admins"), identity=admins_own)
    api = ApiClient(token_for(alpha.client_admin))
    body = {"decision": "approve", "reason": "me"}
    response = api.post(f"/api/v1/access-requests/{pending.pk}/decision", body)
    assert response.status_code == 403, response.content
    assert AccessRequest.objects.get(pk=pending.pk).status == AccessRequest.Status.PENDING


def test_a_request_only_its_person_could_approve_is_refused_when_filed(alpha, admins_own):
    with pytest.raises(ar.AccessRequestError, match="only approver"):
        file(alpha, requestable(alpha, "Alpha Admins"), identity=admins_own)
    assert not AccessRequest.objects.filter(identity=admins_own).exists()


def test_the_person_the_access_is_for_is_not_mailed_to_approve_it(
    alpha, admins_own, co_admin, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("provisioning.tasks.run_job.delay", lambda job_id: None)
    with django_capture_on_commit_callbacks(execute=True):
        file(alpha, requestable(alpha, "Alpha Admins"), identity=admins_own)
    assert [m.to for m in mailoutbox] == [[co_admin.email]]
