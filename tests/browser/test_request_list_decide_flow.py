"""A client admin who opens Requests finds the request they are asked about with Decide…
beside it, decides it on its page, and the list no longer offers it."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tests.provisioning.test_views_access import file, requestable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_client_admin_decides_from_the_requests_list(page, screenshot, alpha):
    filed = file(alpha, requestable(alpha, "Alpha VPN", time_bound=True, max_days=30))
    sign_in(page, alpha.client_admin.username, PASSWORD)
    page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/home/")
    page.locator("nav.sidebar").get_by_role("link", name="Requests", exact=True).click()
    row = page.locator("tbody tr", has_text=f"#{filed.pk}")
    row.get_by_role("link", name="Decide…").click()
    page.wait_for_url(f"**/access/requests/{filed.pk}/#decision")
    decision = page.locator("section.decision")
    decision.locator("textarea[name=reason]").fill("Not this quarter")
    decision.get_by_role("button", name="Deny").click()
    expect(page.locator('section.decision[data-status="denied"]')).to_be_visible()
    screenshot("client-admin-decided-from-the-list")
    page.locator("nav.sidebar").get_by_role("link", name="Requests", exact=True).click()
    expect(page.locator("tbody tr", has_text=f"#{filed.pk}")).to_contain_text("Denied")
    expect(page.get_by_role("link", name="Decide…")).to_have_count(0)
