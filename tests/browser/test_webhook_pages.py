"""An MSP admin adds a tenant's webhook endpoint, copies its secret, sends a test event and
sees it delivered, signed, in the log."""

import json
import uuid

import pytest
from playwright.sync_api import expect

from provisioning.outbound import signing
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.factories import PASSWORD
from tests.outbound.support import received, receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_msp_admin_adds_an_endpoint_and_sends_a_test(
    page, screenshot, live_server, on_sandbox, worker, alpha, msp_admin
):
    url = receiver(on_sandbox)
    sign_in(page, msp_admin.username, PASSWORD)
    page.goto(f"/tenants/{alpha.tenant.slug}/")
    page.click("a.button:has-text('Webhooks')")
    page.click("text=Add endpoint")
    page.fill("#id_name", f"HaloPSA {uuid.uuid4().hex[:4]}")
    page.fill("#id_url", url)
    page.check("input[value='job.failed']")
    page.check("input[value='connection.quarantined']")
    screenshot("webhook-endpoint-form")
    page.click("button:has-text('Create endpoint')")
    secret = page.locator("#issued-secret input").input_value()
    assert secret.startswith("whsec_")
    screenshot("webhook-secret-shown-once")

    page.click("text=Done: to the endpoint")
    expect(page.locator("body")).not_to_contain_text(secret)
    page.click("button:has-text('Send a test event')")
    for _ in range(50):  # the worker sends it; the log shows it when it is done
        if page.locator(".webhook-deliveries .badge.ok").count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator(".webhook-deliveries")).to_contain_text("Delivered")
    screenshot("webhook-delivery-log")
    # When it was made reads on one line (it took three: "6 Dec" / "2026" / "00:20:21").
    created = page.locator(".webhook-deliveries tbody td").first
    tops = created.evaluate(
        "td => { const r = document.createRange(); r.selectNodeContents(td);"
        " return [...new Set([...r.getClientRects()].map(b => Math.round(b.top)))]; }"
    )
    assert len(tops) == 1, created.inner_text()
    assert page.evaluate(SIDEWAYS) == []  # nor does the log outgrow its card for it
    (got,) = received(on_sandbox, url)
    signing.verify(secret, got["headers"], got["body"])
    assert json.loads(got["body"])["type"] == "webhook.test"
