"""An account manager opens a client's report, changes the period, reads the charts, downloads
the CSV, and the print view is a clean client-ready document."""

import csv
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.models import Role
from provisioning.models import RequestableResource
from reports import licences
from reports.demo_history import seed_history
from reports.licences import SkuSeats, Snapshot
from tenants.clock import tenant_today
from tenants.models import Tenant
from tests import db_snapshot
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def seed_contoso() -> None:
    """The demo with its month of history, and Contoso's requestable groups."""
    call_command("seed_demo")
    tenant = Tenant.objects.get(slug="contoso")
    for name in ("VPN Users", "Sales Team"):  # as `seed_demo_access` makes them
        RequestableResource.objects.create(
            tenant=tenant,
            connection=tenant.connections.get(kind="entra"),
            kind="group",
            remote_id=f"id-of-{name}",
            name=name,
        )
    seed_history()


@pytest.fixture(scope="module")
def contoso_rows(django_db_setup, django_db_blocker) -> list[db_snapshot.Rows]:
    """The seeding's rows, made once for the module (2 to 3.5 s a test at a load of 12 to
    20) in a transaction rolled back; each test gets them back and flushes its own writes
    (tests/db_snapshot.py)."""
    with django_db_blocker.unblock():
        return db_snapshot.rows_added_by(seed_contoso)


@pytest.fixture
def contoso(contoso_rows, transactional_db):
    """The demo's Contoso with its month of history and a licence reading from this morning."""
    db_snapshot.write(contoso_rows)
    tenant = Tenant.objects.get(slug="contoso")
    seats = (("EMS", 60, 41), ("O365_BUSINESS_PREMIUM", 30, 27), ("SPE_E3", 25, 19))
    licences.store(
        Snapshot(
            tenant.connections.get(kind="entra").pk,
            timezone.now() - timedelta(hours=2),
            tuple(SkuSeats(*s) for s in seats),
        )
    )
    return tenant


def test_account_manager_reads_exports_and_prints_a_client_report(page, screenshot, contoso):
    manager = make_person("am.contoso", Role.ACCOUNT_MANAGER, [contoso])
    sign_in(page, manager.username, PASSWORD)
    assert page.url.endswith("/reports/")  # account managers land on their reports
    assert page.locator("tr[data-tenant]").count() == 1  # Contoso only
    page.click("tr[data-tenant='contoso'] td:first-child a")
    page.wait_for_url("**/reports/contoso/")
    report = page.locator("#report")
    assert "Provisioning report: Contoso" in report.locator("h1").inner_text()
    assert page.locator("#report svg.chart rect.bar").count() >= 8  # 5 weeks x 2
    assert int(page.locator("#fig-joiners").inner_text()) > 5

    # The report's days are the tenant's (tenants.clock), not the server's: apart for hours
    # of every day in a zone away from UTC (London's summer: 23:00 to midnight UTC).
    today = tenant_today(contoso)
    start = (today - timedelta(days=13)).isoformat()
    page.fill("#id_start", start)
    page.dispatch_event("#id_start", "change")
    assert page.locator("#id_period").input_value() == "custom"
    page.click("button:has-text('Show')")
    page.wait_for_selector(f"#report[data-start='{start}']")
    assert f"start={start}" in page.url
    bars = page.locator("#report svg.chart rect.bar")
    assert bars.count() in (4, 6)  # two or three weeks, joiners and leavers
    heights = [float(bars.nth(i).get_attribute("height")) for i in range(bars.count())]
    assert any(h > 0 for h in heights)
    assert page.locator("#report svg.chart polyline.line").count() == 3  # one per SKU
    assert page.locator("svg.chart > title").first.text_content() == "Joiners and leavers per week"

    with page.expect_download() as download_info:
        page.click("text=Download CSV")
    download = download_info.value
    assert download.suggested_filename.startswith(f"contoso-provisioning-{start}-to-")
    text = Path(download.path()).read_text(encoding="utf-8-sig")
    first_cells = [row[:2] for row in csv.reader(text.splitlines()) if row]
    assert ["Client", "Contoso"] in first_cells
    assert {"Joiners", "SPE_E3"} <= {cells[0] for cells in first_cells}

    page.select_option("#id_period", "last_30_days")
    month_ago = (today - timedelta(days=29)).isoformat()
    page.wait_for_selector(f"#report[data-start='{month_ago}']")
    assert int(page.locator("#fig-granted").inner_text()) == 3
    screenshot("report-client")
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
    assert not page.locator("nav.sidebar").is_visible()
    assert not page.locator("form.report-period").is_visible()
    assert page.locator(".report-foot").is_visible()
    screenshot("report-client-print")


def test_the_dashboard_updates_itself_and_sorts(page, screenshot, contoso):
    page.clock.install()  # the page's timers, to be moved on to its next poll (below)
    sign_in(page, "admin", "demo-pass-2026")
    rows = page.locator("#board tbody tr[data-tenant]")
    assert rows.count() == 3
    assert page.locator("#board").get_attribute("data-hx-trigger") == "every 15s"
    licences = page.locator("tr[data-tenant='contoso'] .licences").inner_text()
    assert licences.startswith("Enterprise Mobility + Security E3\nEMS")
    screenshot("dashboard")

    page.click("#board th a:has-text('Tenant')")
    page.wait_for_url("**/?sort=name")
    assert [rows.nth(i).get_attribute("data-tenant") for i in range(3)] == [
        "contoso",
        "fabrikam",
        "northwind",
    ]
    page.select_option("#id_tag", "okta")
    page.wait_for_url("**tag=okta**")
    page.locator("#board[data-tenants='1']").wait_for()

    page.select_option("#id_tag", "")
    page.locator("#board[data-tenants='3']").wait_for()
    fabrikam = Tenant.objects.get(slug="fabrikam")
    fabrikam.connections.filter(kind="okta").update(
        quarantined_at=timezone.now(), quarantine_reason="Okta is down"
    )
    # No reload: the next poll brings the quarantine in. The page's clock is moved on to it
    # (its timers fire as 15 s had passed) rather than waited for in real time.
    page.clock.fast_forward("00:15")
    page.locator("#board :text('Okta is down')").wait_for(timeout=25_000)


def test_a_client_report_on_a_phone_keeps_each_row_on_the_screen(page, screenshot, contoso):
    """At 390 px the access requests, the failed operations (the directory's words a word per
    line), the joiners, movers and leavers and the licence seats scrolled sideways inside
    their cards."""
    manager = make_person("am.contoso", Role.ACCOUNT_MANAGER, [contoso])
    sign_in(page, manager.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/reports/contoso/?period=last_30_days")
    tables = page.locator("#report table.stack-on-phone")
    screenshot("client-report-390")
    assert tables.count() == 4
    for table in tables.all():
        card = table.evaluate(
            "t => { const c = t.closest('.card'); return c.scrollWidth - c.clientWidth }"
        )
        assert card <= 0, (
            f"{table.locator('xpath=ancestor::section[1]/h2').inner_text()}: {card} px"
        )
    leaver = page.locator("table.people-table tbody tr", has_text="Leave").first
    assert "Asked by" in leaver.inner_text() and "Read back" in leaver.inner_text()
