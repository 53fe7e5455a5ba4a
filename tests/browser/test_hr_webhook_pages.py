"""An MSP admin turns a tenant's HR webhook on, copies the secret, and sees what HR sent."""

import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest
from playwright.sync_api import expect

from provisioning.models import Identity
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tests.provisioning.directories import make_directories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post_event(url: str, secret: str, event: dict) -> int:
    body = json.dumps(event).encode()
    ts = str(int(time.time()))
    signature = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Signature-Timestamp": ts,
        "X-Signature": signature,
    }
    return httpx.post(url, content=body, headers=headers, timeout=30).status_code


def test_msp_admin_generates_the_secret_and_reads_the_events(
    page, screenshot, live_server, on_sandbox, msp_admin
):
    dirs = make_directories(on_sandbox, f"hrpage-{uuid.uuid4().hex[:6]}")
    tenant = dirs.tenant
    sign_in(page, msp_admin.username, PASSWORD)
    page.goto(f"/tenants/{tenant.slug}/")
    page.click("text=HR webhook")
    page.wait_for_url(f"**/tenants/{tenant.slug}/hr-webhook/")
    page.click("text=Generate secret")
    page.click("button:has-text('Generate secret')")
    secret = page.locator("#issued-secret input").input_value()
    assert secret.startswith("hrwh_")
    screenshot("hr-webhook-secret")

    url = f"{live_server.url}/hooks/hr/{tenant.slug}/"
    hire = {
        "event": "hire",
        "id": "hire-E1042",
        "employee_id": "E1042",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "role": "Sales",
    }
    assert post_event(url, secret, hire) == 202
    assert post_event(url, secret, hire) == 200
    assert post_event(url, "hrwh_an-old-secret", hire | {"id": "x"}) == 401
    terminate = {"event": "terminate", "id": "term-E9", "employee_id": "E9"}
    assert post_event(url, secret, terminate) == 422

    page.goto(f"/tenants/{tenant.slug}/hr-webhook/secret/")
    assert secret not in page.content()  # shown once, never again
    page.goto(f"/tenants/{tenant.slug}/hr-webhook/")
    page.locator("table.hr-events tbody tr").nth(3).wait_for()
    screenshot("hr-webhook-events")
    page.select_option("#id_outcome", "rejected")  # htmx swaps the table in place
    rows = page.locator("table.hr-events tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("No person with employee_id E9")
    expect(rows.nth(1)).to_contain_text("bad signature")
    assert "outcome=rejected" in page.url
    assert Identity.objects.filter(tenant=tenant, employee_id="E1042").count() == 1
