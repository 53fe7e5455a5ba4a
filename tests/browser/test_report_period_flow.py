"""After a custom period, choosing a preset leaves no stale dates in the address: the URL says
`period=last_quarter` alone, and reloading it shows the same report."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reports.forms import preset_range
from tenants.clock import tenant_today
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_preset_period_drops_the_custom_dates_from_the_address(page, screenshot, alpha):
    sign_in(page, alpha.client_admin.username, PASSWORD)
    start = (timezone.localdate() - timedelta(days=13)).isoformat()
    end = timezone.localdate().isoformat()
    page.goto(f"/reports/{alpha.tenant.slug}/?period=custom&start={start}&end={end}")
    page.wait_for_selector(f"#report[data-start='{start}']")
    # The period's labels on one line, and Show a button the size of its word beside them (it
    # was stretched to a field's width, its word at the left).
    labels = page.locator(".report-period label").all()
    tops = {round(label.bounding_box()["y"]) for label in labels}
    assert len(tops) == 1, tops
    show = page.locator(".report-period button", has_text="Show").bounding_box()
    assert show["width"] < 100, show

    page.select_option("#id_period", "last_quarter")
    first, last = preset_range("last_quarter", tenant_today(alpha.tenant))
    page.wait_for_selector(f"#report[data-start='{first:%Y-%m-%d}'][data-end='{last:%Y-%m-%d}']")
    page.wait_for_url("**?period=last_quarter")
    assert "start=" not in page.url and "end=" not in page.url

    page.click("button:has-text('Show')")  # the form shows the quarter's dates: still a preset
    page.wait_for_url("**?period=last_quarter")
    page.reload()
    assert page.locator("#id_period").input_value() == "last_quarter"
    assert page.locator("#report").get_attribute("data-start") == f"{first:%Y-%m-%d}"
    screenshot("report-preset-period")
