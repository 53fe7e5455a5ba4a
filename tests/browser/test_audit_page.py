"""An MSP admin searches a client's audit trail, opens an event's before/after, exports the
filtered set and verifies the chain; an account manager sees only their client's trail."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from portal.audit.bulk import append_events, history_event
from portal.audit.events import record
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.browser.test_bulk_preview_layout import LINES
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


# A target as an identity names itself: a display name and the address.
ADDRESSED = "Henrik Dahl <henrik.dahl@fabrikam.example>"


def seed_trail(alpha, bravo, msp_admin) -> None:
    now = timezone.now()
    people = [ADDRESSED, "Ben Okoro", "Cleo Patel", "Dev Quinn"]
    history = [
        history_event(
            action,
            timestamp=now - dt.timedelta(hours=30 - n),
            actor=actor,
            tenant=alpha.tenant,
            target=("provisioning.identity", 100 + n, people[n % 4]),
            after=after,
            result=result,
            job_id=alpha.job.pk if action.startswith("directory.") else None,
        )
        for n, (action, actor, after, result) in enumerate(
            [
                ("identity.onboard", alpha.technician, {"username": "ada.ng"}, "success"),
                ("directory.create_user", "system", {"step": "create_user"}, "success"),
                ("directory.add_group", "system", {"group": "Sales Team"}, "success"),
                ("directory.assign_license", "system", {"sku": "SPE_E3"}, "failure"),
                ("access_request.decide", alpha.client_admin, {"decision": "deny"}, "denied"),
            ]
            * 2
        )
    ]
    append_events(history)
    record(
        "identity.change",
        actor=alpha.technician,
        tenant=alpha.tenant,
        target=alpha.identity,
        before={
            "job_title": "Sales Associate",
            "department": "Sales",
            "groups": ["All Staff", "Sales Team"],
            "manager": "ada.ng@alpha.test",
        },
        after={
            "job_title": "Account Executive",
            "department": "Sales",
            "groups": ["All Staff", "Key Accounts"],
            "usage_location": "DE",
        },
        job_id=alpha.job.pk,
    )
    record("identity.onboard", actor=bravo.technician, tenant=bravo.tenant, target=bravo.identity)


def test_msp_admin_searches_opens_a_diff_exports_and_verifies(
    page, screenshot, alpha, bravo, msp_admin
):
    seed_trail(alpha, bravo, msp_admin)
    sign_in(page, msp_admin.username, PASSWORD)
    page.click("nav >> text=Audit")
    page.wait_for_url("**/audit/")
    # Both clients' events (counted by tenant: a job a worker of an earlier test was still
    # finishing may add an event of a tenant that is gone, and the MSP admin sees it too).
    expect(page.locator(".audit-event", has_text=alpha.tenant.name)).to_have_count(11)
    expect(page.locator(".audit-event", has_text=bravo.tenant.name)).to_have_count(1)

    # The address breaks at a dot or before its @, not where the column ends ("fabrikam.e").
    target = page.locator(".audit-event .target > span:last-child", has_text="henrik").first
    lines = target.evaluate(LINES)
    assert "".join(lines) == ADDRESSED
    for before, after in zip(lines, lines[1:], strict=False):
        assert before[-1] in " .-" or after[0] == "@", lines

    page.select_option("#id_tenant", "alpha")  # htmx swaps the results in
    expect(page.locator(".audit-event")).to_have_count(11)
    assert "tenant=alpha" in page.url
    change = page.locator(".audit-event", has_text="identity.change")
    change.locator("summary").click()
    expect(change.locator("table.diff")).to_be_visible()
    expect(change.locator("tr.diff-changed", has_text="job_title")).to_contain_text(
        "Account Executive"
    )
    expect(change.locator(".chip.added")).to_have_text("+ Key Accounts")
    expect(change.locator(".chip.removed")).to_have_text("− Sales Team")
    expect(change.locator("tr.diff-removed")).to_contain_text("manager")
    expect(change.locator("tr.diff-added")).to_contain_text("usage_location")
    screenshot("audit-trail")

    page.fill("#id_action", "directory.")
    page.select_option("#id_result", "failure")
    expect(page.locator(".audit-event")).to_have_count(2)
    with page.expect_download() as download:
        page.click("#audit-export")
    body = download.value.path().read_text(encoding="utf-8-sig")
    assert body.count("directory.assign_license") == 2 and "Sales Team" not in body

    page.select_option("#audit-verify select", "alpha")
    page.click("#audit-verify button")
    expect(page.locator(".message.success")).to_contain_text(  # Alpha's 11 and the export
        "The audit trail of Alpha Ltd is intact: 12 event(s) checked."
    )
    screenshot("audit-trail-verified")

    # On a phone each event stacks in the card: nothing scrolls sideways, its action whole.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(SIDEWAYS) == []
    expect(page.locator(".audit-head")).to_be_hidden()
    for action in page.locator(".audit-event summary code").all():
        assert action.evaluate("c => c.scrollWidth <= c.clientWidth"), action.text_content()
    row = page.locator(".audit-event summary").first
    assert row.locator(".when").bounding_box()["y"] == row.locator(".result").bounding_box()["y"]
    screenshot("audit-trail-phone")
    # The menu above the page takes less than half of the phone's first screen (it took 640 px).
    main_top = page.evaluate("document.querySelector('main').getBoundingClientRect().top + scrollY")
    assert main_top < 844 / 2, main_top


def test_account_manager_sees_only_their_client(page, screenshot, alpha, bravo, msp_admin):
    seed_trail(alpha, bravo, msp_admin)
    sign_in(page, alpha.account_manager.username, PASSWORD)
    page.goto("/audit/")
    # Alpha's 11 and their own sign-in: a person bound to a client is in the client's trail.
    expect(page.locator(".audit-event")).to_have_count(12)
    expect(page.locator(".audit-event").filter(has_text="Signed in")).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text("Bravo GmbH")
    expect(page.locator("#audit-verify")).to_have_count(0)
    assert page.goto("/audit/?tenant=bravo").status == 404
    # On a phone the menu above a short page (this 404) is no taller than its links: the
    # page's spare height went to it, a dark block half the screen high.
    page.set_viewport_size({"width": 390, "height": 844})
    menu_end = page.evaluate(
        "document.querySelector('.sidebar-foot').getBoundingClientRect().bottom"
    )
    main_top = page.evaluate("document.querySelector('main').getBoundingClientRect().top")
    assert main_top - menu_end < 20, (menu_end, main_top)
    screenshot("not-found-phone")
