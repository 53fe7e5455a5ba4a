"""A technician makes an API token in the portal, copies it (shown once), reads the API's
documentation page (Swagger UI from ninja's own static files, under the portal's CSP), and
the token works; then revokes it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_technician_makes_uses_and_revokes_a_token(page, screenshot, alpha, live_server):
    sign_in(page, alpha.technician.username, PASSWORD)
    page.click("text=API tokens")
    expect(page.locator("h1")).to_have_text("API tokens")
    page.click("text=New token")
    page.fill("#id_name", "HaloPSA")
    expiry = timezone.localdate() + timedelta(days=30)
    page.fill("#id_expires_on", f"{expiry:%Y-%m-%d}")
    page.check("#id_read_only")
    page.click("button:has-text('Create the token')")
    clear = page.input_value("#api-token-clear")
    assert clear.startswith("mpp_")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("button:has-text('Copy')")
    expect(page.locator("button:has-text('Copied')")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == clear
    screenshot("api-token-created")

    page.click("text=Done")
    expect(page.locator("table")).to_contain_text("HaloPSA")
    expect(page.locator("table")).not_to_contain_text(clear)
    screenshot("api-token-list")

    # Three events, each waited for on its own: the page with its scripts run (Swagger UI's
    # bundle is 1.4 MB of JavaScript; the page's 15 s), the API's description fetched and
    # read (the page's 15 s), then Swagger UI drawing it (`expect`'s own 5 s). One `expect`
    # from the click to the drawn title gave all three 5 s, and failed three runs of three at
    # a load of 12 to 16 (seen failing with the bundle and the description 4 s late each).
    with page.expect_navigation(wait_until="load"):
        page.click("text=interactive documentation")
    page.wait_for_function("() => ui.specSelectors.loadingStatus() === 'success'", polling=100)
    expect(page.locator(".swagger-ui .title").first).to_contain_text("MSP provisioning portal API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/people/{id}", exact=True).first).to_be_visible()
    screenshot("api-docs")

    api = Client()
    headers = {"Authorization": f"Bearer {clear}"}
    assert api.get("/api/v1/people", headers=headers).status_code == 200

    page.goto("/account/api-tokens/")
    page.click("text=Revoke")
    page.click("button:has-text('Revoke')")
    expect(page.locator(".message")).to_contain_text("Revoked the API token")
    assert api.get("/api/v1/people", headers=headers).status_code == 401
