"""A refused change is on the trail with the reason it was given: an API token's 403 (read-only,
or a role that may not) is not recorded as a CSRF failure, and a page's own 403 (an access
request decided by someone who may not) says why, as the answer did."""

from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.api.conftest import ApiClient, token_for
from tests.security.test_decide_role_first import co_admin, pending  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

JOINER = {"first_name": "Eve", "last_name": "Mallory", "role_templates": [], "start_date": None}


def reasons() -> list[str]:
    refused = AuditEvent.objects.filter(action="security.request_refused").order_by("pk")
    return [event.after["reason"] for event in refused]


def test_an_api_tokens_refusals_are_recorded_with_their_reasons(alpha):
    people = f"/api/v1/tenants/{alpha.tenant.slug}/people"
    read_only = ApiClient(token_for(alpha.technician, read_only=True))
    assert read_only.post(people, JOINER).status_code == 403
    account_manager = ApiClient(token_for(alpha.account_manager))
    assert account_manager.post(people, JOINER).status_code == 403
    assert reasons() == ["This API token is read-only.", "Your role may not do this."]


def test_a_decision_refused_on_the_page_is_recorded_with_its_reason(client, alpha, pending):  # noqa: F811
    client.force_login(alpha.technician)
    url = reverse(
        "access_request_decide", kwargs={"tenant": alpha.tenant.slug, "request_id": pending.pk}
    )
    assert client.post(url, {"decision": "approve", "reason": "x"}).status_code == 403
    assert reasons() == ["You are not an approver of this resource."]
