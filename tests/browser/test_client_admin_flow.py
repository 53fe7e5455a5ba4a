"""A client admin's first hour: they sign in, find their organisation's home, people,
requests and report in the sidebar, and deny a request inline: the "waiting" sentence and the
sidebar's badge count down without a reload, and the approvals' heading with them."""

import re

import pytest
from playwright.sync_api import expect

from provisioning.models import Job
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.factories import PASSWORD
from tests.provisioning.test_views_access import file, granted, requestable

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_client_admin_finds_their_way_in_their_own_words(page, screenshot, alpha):
    file(alpha, requestable(alpha, "Alpha VPN", time_bound=True, max_days=30))  # a badge
    sign_in(page, alpha.client_admin.username, PASSWORD)
    page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/home/")
    nav = page.locator("nav.sidebar")
    assert nav.locator("a.active").inner_text().startswith("Home")
    assert "Alpha Ltd" in nav.locator("a.active").inner_text()
    for msp_word in ("Dashboard", "Tenants", "Jobs", "Audit"):
        assert nav.get_by_role("link", name=msp_word, exact=True).count() == 0
    screenshot("client-admin-home")
    nav.screenshot(path=str(ARTIFACTS / "client-admin-sidebar.png"))

    for entry, path in (
        ("People", "people/"),
        ("Requests", "access/requests/"),
    ):
        nav.get_by_role("link", name=entry, exact=True).click()
        page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/{path}")
        assert nav.locator("a.active").inner_text() == entry
    nav.get_by_role("link", name="Reports", exact=True).click()
    page.wait_for_url(f"**/reports/{alpha.tenant.slug}/")
    assert "Provisioning report: Alpha Ltd" in page.locator("#report h1").inner_text()

    page.goto("/")  # the MSP's dashboard, as a bookmark: their home instead
    page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/home/")
    assert "1 tenants" not in page.content()

    # on a phone, each page fits the screen: a wide table scrolls inside its card
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("home/", "people/", "access/requests/"):
        page.goto(f"/tenants/{alpha.tenant.slug}/{path}")
        width = page.evaluate("document.documentElement.clientWidth")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    screenshot("client-admin-requests-phone")
    # The sidebar's link no longer spans the column: its count stays apart from its words.
    waiting = nav.locator("#waiting-for-you")
    words_end = waiting.evaluate(
        "a => { const r = document.createRange(); r.selectNodeContents(a.firstChild);"
        " return r.getBoundingClientRect().right; }"
    )
    assert waiting.locator(".count").bounding_box()["x"] - words_end >= 4


def test_an_inline_decision_counts_down_the_waiting_sentence_and_badge(page, screenshot, alpha):
    vpn = requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)
    wiki = requestable(alpha, "Alpha Wiki", kind="app")
    first, second = file(alpha, vpn), file(alpha, wiki, days=None)
    sign_in(page, alpha.client_admin.username, PASSWORD)
    page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/home/")
    # A swapped-in element listens for events only once htmx has settled it (20 ms); settling
    # slowly here makes the second decision come back before the first's counts have settled,
    # as it could on a loaded machine: the counts must still follow it.
    page.evaluate("htmx.config.defaultSettleDelay = 2000")
    here, badge = page.locator("#waiting-here"), page.locator("#waiting-for-you .count")
    assert here.inner_text() == "2 requests waiting for your decision."
    assert badge.inner_text() == "2"

    decision = page.locator(f"#decision-{first.pk}")
    decision.locator("textarea[name=reason]").fill("Not this quarter")
    decision.locator("button", has_text="Deny").click()
    page.locator(f'#decision-{first.pk}[data-status="denied"]').wait_for()
    page.locator("#waiting-here", has_text="1 request waiting for your decision.").wait_for()
    page.locator("#waiting-for-you .count", has_text="1").wait_for()
    screenshot("client-admin-after-one-decision")

    decision = page.locator(f"#decision-{second.pk}")
    decision.locator("textarea[name=reason]").fill("Not needed")
    decision.locator("button", has_text="Deny").click()
    page.locator("#waiting-here", has_text="Nothing is waiting for your decision.").wait_for()
    # nor does the section's heading say "Pending" above what was just decided
    expect(page.locator("#approvals-title")).to_have_text("No approvals pending")
    # htmx keeps the old badge's attributes until the swap settles (about 20 ms after the
    # new text shows), so the class is waited for, not read once. Nothing waiting: no "0".
    expect(badge).to_be_hidden()
    expect(badge).to_have_text("")
    expect(badge).not_to_have_class(re.compile(r"\bsome\b"))


def test_an_approval_shows_its_grant_job_and_trail_without_a_reload(page, screenshot, alpha):
    vpn = requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)
    filed = file(alpha, vpn)
    sign_in(page, alpha.client_admin.username, PASSWORD)
    page.wait_for_url(f"**/tenants/{alpha.tenant.slug}/home/")
    expect(page.locator("#audit")).not_to_contain_text("Access request approved")

    decision = page.locator(f"#decision-{filed.pk}")
    decision.locator("textarea[name=reason]").fill("Fine for the project")
    decision.locator("button", has_text="Approve").click()
    expect(page.locator("#recent-jobs tbody tr").first).to_contain_text("Grant access #")
    expect(page.locator("#audit tbody tr").first).to_contain_text("Access request approved")
    # still one of each section: swapped in place, not added beside the old one
    assert page.locator("#recent-jobs").count() == 1 and page.locator("#audit").count() == 1

    # The grant job ends (as the worker leaves it): the panel's poll sees it, and the page's
    # people and jobs follow without a reload.
    filed.refresh_from_db()
    Job.objects.filter(pk=filed.grant_job_id).update(status=Job.Status.SUCCEEDED)
    granted(filed)
    page.locator(f'#decision-{filed.pk}[data-status="granted"]').wait_for()
    grant_row = page.locator(
        "#recent-jobs tbody tr", has_text=f"Grant access #{filed.grant_job_id}"
    )
    expect(grant_row).to_contain_text("Succeeded")
    expect(page.locator("#people")).to_contain_text("Alpha VPN · until")
    screenshot("client-admin-after-approval")
