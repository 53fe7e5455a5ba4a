"""Access requests through the API: list (filters, pages), file (the page's form rules),
decide (the resource's approvers only), and what a tenant lets people request."""

from datetime import timedelta

import jsonschema_rs
import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.models import AccessRequest, Job
from tests.factories import make_joiner, make_person
from tests.provisioning.test_views_access import file, requestable

pytestmark = pytest.mark.django_db


@pytest.fixture
def vpn(alpha):
    return requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)


@pytest.fixture
def wiki(alpha):
    return requestable(alpha, "Alpha Wiki", kind="app")


def in_days(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def test_requestable_resources_list_the_ids_a_request_names(alpha, bravo, vpn, wiki, api_as):
    requestable(bravo, "Bravo VPN")
    body = (
        api_as(alpha.client_admin)
        .get(f"/api/v1/tenants/{alpha.tenant.slug}/requestable-resources")
        .json()
    )
    assert {(r["id"], r["name"], r["time_bound"]) for r in body["items"]} == {
        (vpn.pk, "Alpha VPN", True),
        (wiki.pk, "Alpha Wiki", False),
    }
    other = api_as(alpha.client_admin).get(
        f"/api/v1/tenants/{bravo.tenant.slug}/requestable-resources"
    )
    assert other.status_code == 404


def test_the_list_filters_by_status_and_person_and_pages(alpha, vpn, wiki, api_as):
    pending = file(alpha, wiki, days=None)
    decided = file(alpha, vpn)
    AccessRequest.objects.filter(pk=decided.pk).update(status=AccessRequest.Status.DENIED)
    client = api_as(alpha.account_manager)
    path = f"/api/v1/tenants/{alpha.tenant.slug}/access-requests"
    items = client.get(path, status="pending").json()["items"]
    assert [r["id"] for r in items] == [pending.pk]
    assert items[0]["person"] == alpha.identity.pk and items[0]["resource_name"] == "Alpha Wiki"
    assert len(client.get(path, person=alpha.identity.pk).json()["items"]) == 2
    first = client.get(path, limit=1).json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    for bad in ({"status": "maybe"}, {"person": "x"}, {"person": 10**30}, {"status": "\x00"}):
        response = client.get(path, **bad)
        assert response.status_code == 422, bad
        assert response["Content-Type"] == "application/problem+json"


def test_a_client_admin_files_a_request_and_its_approvers_are_the_others(alpha, wiki, api_as):
    client = api_as(alpha.technician, name="HaloPSA")
    body = {"person": alpha.identity.pk, "resource": wiki.pk, "reason": "Ticket #4711"}
    response = client.post(f"/api/v1/tenants/{alpha.tenant.slug}/access-requests", body, key="k1")
    assert response.status_code == 201, response.content
    filed = response.json()
    assert filed["status"] == "pending" and filed["reason"] == "Ticket #4711"
    event = AuditEvent.objects.get(action="access.request")
    assert event.actor_display.endswith("via API token “HaloPSA”")


def test_filing_follows_the_pages_form(alpha, bravo, vpn, wiki, api_as):
    client = api_as(alpha.client_admin)
    path = f"/api/v1/tenants/{alpha.tenant.slug}/access-requests"
    me = alpha.identity.pk
    cases = [
        ({"person": me, "resource": vpn.pk, "reason": "x"}, "ends_at"),  # time-bound
        ({"person": me, "resource": vpn.pk, "reason": "x", "ends_at": in_days(90)}, "ends_at"),
        ({"person": me, "resource": vpn.pk, "reason": "x", "ends_at": in_days(-1)}, "ends_at"),
        ({"person": bravo.identity.pk, "resource": wiki.pk, "reason": "x"}, "person"),
        ({"person": me, "resource": requestable(bravo, "B").pk, "reason": "x"}, "resource"),
        ({"person": me, "resource": wiki.pk, "reason": "   "}, "reason"),
    ]
    for body, field in cases:
        response = client.post(path, body)
        assert response.status_code == 422, (body, response.content)
        assert ["body", "body", field] in [e["loc"] for e in response.json()["errors"]], body
    assert not AccessRequest.objects.exists()


def test_a_reason_with_markup_is_refused_as_on_the_page(alpha, wiki, api_as):
    body = {"person": alpha.identity.pk, "resource": wiki.pk, "reason": "Needs it <b>now</b>"}
    path = f"/api/v1/tenants/{alpha.tenant.slug}/access-requests"
    response = api_as(alpha.client_admin).post(path, body)
    assert response.status_code == 422
    assert ["body", "body", "reason"] in [e["loc"] for e in response.json()["errors"]]
    assert not AccessRequest.objects.exists()


def test_filing_is_403_for_account_managers_and_read_only_tokens_404_elsewhere(
    alpha, bravo, wiki, api_as
):
    body = {"person": alpha.identity.pk, "resource": wiki.pk, "reason": "Needs it"}
    path = f"/api/v1/tenants/{alpha.tenant.slug}/access-requests"
    assert api_as(alpha.account_manager).post(path, body).status_code == 403
    assert api_as(alpha.client_admin, read_only=True).post(path, body).status_code == 403
    assert api_as(bravo.client_admin).post(path, body).status_code == 404
    assert not AccessRequest.objects.exists()


def test_a_client_admin_approves_and_the_grant_job_starts(alpha, wiki, api_as):
    filed = file(alpha, wiki, days=None)
    client = api_as(alpha.client_admin, name="ServiceDesk")
    response = client.post(
        f"/api/v1/access-requests/{filed.pk}/decision", {"decision": "approve", "reason": "OK"}
    )
    assert response.status_code == 200, response.content
    decided = response.json()
    assert decided["status"] == "approved" and decided["decision_reason"] == "OK"
    job = Job.objects.get(kind=Job.Kind.GRANT)
    assert decided["grant_job"] == f"/api/v1/jobs/{job.pk}"
    again = client.post(
        f"/api/v1/access-requests/{filed.pk}/decision", {"decision": "deny", "reason": "No"}
    )
    assert again.status_code == 409 and "decided already" in again.json()["detail"]
    assert AuditEvent.objects.get(action="access.approve").actor_display.endswith(
        "via API token “ServiceDesk”"
    )


def test_only_approvers_decide_and_never_on_their_own_request(alpha, bravo, wiki, api_as):
    filed = file(alpha, wiki, days=None)
    path = f"/api/v1/access-requests/{filed.pk}/decision"
    deny = {"decision": "deny", "reason": "No"}
    response = api_as(alpha.account_manager).post(path, deny)
    assert response.status_code == 403 and "not an approver" in response.json()["detail"]
    response = api_as(alpha.technician).post(path, deny)  # who filed it, and no approver
    assert response.status_code == 403
    assert api_as(alpha.client_admin, read_only=True).post(path, deny).status_code == 403
    assert api_as(bravo.client_admin).post(path, deny).status_code == 404
    other, _ = make_joiner(alpha, "Other", "One")
    make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])  # who decides their own
    own = file(alpha, wiki, by=alpha.client_admin, days=None, identity=other)
    response = api_as(alpha.client_admin).post(f"/api/v1/access-requests/{own.pk}/decision", deny)
    assert response.status_code == 403 and "You asked" in response.json()["detail"]
    for bad in ({"decision": "maybe", "reason": "x"}, {"decision": "deny", "reason": ""}, {}):
        assert api_as(alpha.client_admin).post(path, bad).status_code == 422
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.PENDING


def _approved(alpha, wiki, api_as):
    filed = file(alpha, wiki, days=None)
    decision = {"decision": "approve", "reason": "OK"}
    api_as(alpha.client_admin).post(f"/api/v1/access-requests/{filed.pk}/decision", decision)
    return filed


def test_an_operator_revokes_approved_access_and_its_removal_job_starts(alpha, wiki, api_as):
    filed = _approved(alpha, wiki, api_as)
    path = f"/api/v1/access-requests/{filed.pk}/revoke"

    response = api_as(alpha.technician, name="Offboarder").post(path, {"reason": "By mistake"})

    assert response.status_code == 200, response.content
    body = response.json()
    job = Job.objects.get(kind=Job.Kind.REVOKE)
    assert (body["status"], body["end_job"]) == ("ending", f"/api/v1/jobs/{job.pk}")
    event = AuditEvent.objects.get(action="access.end")
    assert event.after["reason"] == "By mistake"
    assert event.actor_display.endswith("via API token “Offboarder”")
    again = api_as(alpha.technician).post(path, {})
    assert again.status_code == 409 and "can be ended" in again.json()["detail"]


def test_revoking_is_403_for_account_managers_and_read_only_tokens_404_elsewhere(
    alpha, bravo, wiki, api_as
):
    filed = _approved(alpha, wiki, api_as)
    path = f"/api/v1/access-requests/{filed.pk}/revoke"
    assert api_as(alpha.account_manager).post(path, {}).status_code == 403
    assert api_as(alpha.technician, read_only=True).post(path, {}).status_code == 403
    assert api_as(bravo.client_admin).post(path, {}).status_code == 404
    assert api_as(alpha.technician).post(path, {"reason": "<b>x</b>"}).status_code == 422
    filed.refresh_from_db()
    assert filed.status == AccessRequest.Status.APPROVED
    assert not Job.objects.filter(kind=Job.Kind.REVOKE).exists()


def test_the_document_says_a_reason_holds_no_nul_as_the_api_refuses(alpha, wiki, api_as, client):
    """schemathesis' run sent a revoke's `reason` with a NUL, valid by the document's
    `^[^<>]*$` and refused by the form (Django's "Null characters are not allowed", 422)."""
    document = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    for name in ("AccessRequestIn", "DecisionIn", "RevokeIn"):
        reason = document[name]["properties"]["reason"]
        assert not jsonschema_rs.is_valid(reason, "by\x00mistake"), name
        assert jsonschema_rs.is_valid(reason, "By mistake, twice.\nSee the ticket."), name
    filed = _approved(alpha, wiki, api_as)
    path = f"/api/v1/access-requests/{filed.pk}/revoke"
    refused = api_as(alpha.technician).post(path, {"reason": "by\x00mistake"})
    assert refused.status_code == 422
