"""Crafted requests to the HR webhook are refused and recorded, never a 500: a NUL in the
tenant part of the URL (an outsider needs no secret for that), a NUL in a value or a field
name of a signed body, a body nested deeper than Python's recursion limit. PostgreSQL
refuses a NUL in a text column, so each of these was a 500 that recorded nothing."""

from __future__ import annotations

import pytest

from provisioning.webhook.models import HRWebhookEvent
from tests.provisioning.test_hr_webhook import (
    SECRET,
    assert_refused_and_recorded,
    counts,
    hire,
    send,
    with_secret,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_refusal_limit(settings):
    settings.HR_WEBHOOK_REFUSALS_PER_MINUTE = 100_000


def test_a_nul_in_the_tenant_of_the_url_is_a_401_recorded(client, alpha):
    with_secret(alpha.tenant)
    before = counts()
    response = client.post("/hooks/hr/al%00pha/", data=b"{}", content_type="application/json")
    assert_refused_and_recorded(response, 401, "missing", before)
    event = HRWebhookEvent.objects.order_by("-pk").first()
    assert event.tenant is None and event.tenant_slug == "alpha"


def test_a_signed_request_to_a_slug_with_a_nul_opens_no_tenant(client, alpha):
    """The slug is cleaned for the record only: it never names the tenant it resembles."""
    with_secret(alpha.tenant)
    before = counts()
    assert_refused_and_recorded(send(client, "al\x00pha", hire()), 401, "unknown tenant", before)


@pytest.mark.parametrize(
    "event, reason",
    [
        (hire(id="hire-\x00"), "id"),
        (hire(first_name="Ada\x00"), "first_name"),
        (hire() | {"sal\x00ary": 1}, "salary"),
    ],
)
def test_a_nul_in_a_signed_body_is_a_400_recorded(client, alpha, event, reason):
    with_secret(alpha.tenant)
    before = counts()
    response = send(client, alpha.tenant.slug, event)
    assert_refused_and_recorded(response, 400, reason, before)
    assert "\x00" not in HRWebhookEvent.objects.order_by("-pk").first().idempotency_key


def test_a_body_nested_past_the_recursion_limit_is_a_400_recorded(client, alpha):
    with_secret(alpha.tenant, SECRET)
    before = counts()
    raw = b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"
    response = send(client, alpha.tenant.slug, raw=raw)
    assert_refused_and_recorded(response, 400, "not valid JSON", before)


@pytest.mark.parametrize(
    "event, reason",
    [
        (hire(first='=HYPERLINK("https://evil.example","Ada")'), "first_name"),
        (hire(last="+Lovelace"), "last_name"),
        (hire(department="@SUM(A1)"), "department"),
        (hire(job_title="-2+3"), "job_title"),
    ],
)
def test_a_name_or_attribute_starting_as_a_formula_is_a_400_recorded(client, alpha, event, reason):
    """The one rule for a person's name (portal/plain_text.py) that the forms and the CSV
    import apply: the webhook refused markup but took a spreadsheet formula, and pushed it
    into the directories, whose own reports and exports carry it."""
    from provisioning.models import Identity

    with_secret(alpha.tenant)
    before = counts()
    response = send(client, alpha.tenant.slug, event)
    assert_refused_and_recorded(response, 400, reason, before)
    assert not Identity.objects.filter(tenant=alpha.tenant, employee_id="E1001").exists()
