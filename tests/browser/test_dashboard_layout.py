"""The dashboard on a laptop's screen: the page never scrolls sideways; a table wider than
the screen scrolls inside its card, with the header and its filter whole."""

import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.models import Role
from provisioning.models import Job
from reports import licences
from reports.licences import SkuSeats, Snapshot
from tenants.models import Tenant
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.reports.history import bare_world, job, person
from tests.reports.test_dashboard_drift import unmanaged

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEATS = (("EMS", 85, 55), ("O365_BUSINESS_PREMIUM", 30, 27), ("SPE_E3", 60, 7))


def seeded_with_seats_and_a_secret_ending() -> None:
    """The demo's tenants, each Entra connection with three SKUs read and its secret ending in
    21 days: the licence and credential cells at their widest."""
    call_command("seed_demo")
    for tenant in Tenant.objects.all():
        for connection in tenant.connections.filter(kind="entra"):
            connection.secret_expires_on = timezone.localdate() + timedelta(days=21)
            connection.save(update_fields=["secret_expires_on"])
            reading = tuple(SkuSeats(*s) for s in SEATS)
            licences.store(Snapshot(connection.pk, timezone.now(), reading))


def test_the_dashboard_fits_a_1280_pixel_screen(page, screenshot):
    seeded_with_seats_and_a_secret_ending()
    admin = make_person("msp.admin", Role.MSP_ADMIN, all_tenants=True)
    sign_in(page, admin.username, PASSWORD)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/")
    page.locator(".board-table table").wait_for()
    screenshot("dashboard-1280")

    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    tag_filter = page.locator(".board-filter select").bounding_box()
    assert tag_filter["x"] + tag_filter["width"] <= width
    card = page.locator(".board-table")
    # Named like the cards beside it (Drift, Failures needing attention).
    assert card.get_by_role("heading", level=2).inner_text() == "Tenants"
    assert card.evaluate("e => e.getBoundingClientRect().right") <= width
    # Nine columns fit a laptop's screen whole: no column (licences, approvals, the next
    # seven days) hides behind the card's own scroll bar.
    assert card.evaluate("e => e.scrollWidth <= e.clientWidth")


def test_failures_needing_attention_stack_on_a_phone(page, screenshot):
    """At 390 px the five columns left the failed step and the directory's words a word per
    line, and the step behind the card's scroll bar: each failure stacks instead."""
    world = bare_world(f"phone-{uuid.uuid4().hex[:6]}", "Fabrikam")
    who = person(world, "Gideon", "Barros")
    steps = [("assign_license", "O365_BUSINESS_PREMIUM", "failed")]
    job(world, who, "join", created=timezone.now() - timedelta(hours=5), hours=0.01,
        status="partial", steps=steps)  # fmt: skip
    unmanaged(world, 3)  # a row on the Drift card
    admin = make_person("msp.admin", Role.MSP_ADMIN, all_tenants=True)
    sign_in(page, admin.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    card = page.locator(".card.attention")
    failure = card.locator("tbody tr", has_text="Gideon Barros")
    step = failure.locator("td:nth-child(4)")
    step.wait_for()
    screenshot("dashboard-failures-390")

    assert card.evaluate("e => e.scrollWidth <= e.clientWidth"), "the card scrolls sideways"
    # The failed step and the directory's words take the card's width, not a fifth of it.
    assert step.bounding_box()["width"] >= 0.8 * card.bounding_box()["width"] - 40
    row = failure.inner_text()
    for said in ("Fabrikam", "Gideon Barros", "Join #", "No available licences for SPE_E3."):
        assert said in row, row
    # The Drift card too: its link to the report was behind the card's scroll bar.
    drift = page.locator("#drift-card")
    assert drift.evaluate("e => e.scrollWidth <= e.clientWidth"), "the Drift card scrolls sideways"
    assert "In scope, not managed 3" in " ".join(drift.locator("tbody tr").inner_text().split())


def test_the_tenants_table_stacks_on_a_phone_and_still_sorts(page, screenshot):
    """At 390 px the Tenants card scrolled sideways: its nine sortable columns left the
    credentials, licences and approvals behind the card's scroll bar. Each tenant now stacks
    with its cells labelled, and a Sort by list stands in for the hidden column headers."""
    call_command("seed_demo")
    admin = make_person("msp.admin", Role.MSP_ADMIN, all_tenants=True)
    sign_in(page, admin.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    card = page.locator(".board-table")
    card.locator("tbody tr").first.wait_for()
    screenshot("dashboard-tenants-390")

    assert card.evaluate("e => e.scrollWidth <= e.clientWidth"), "the Tenants card scrolls sideways"
    northwind = " ".join(card.locator("tr[data-tenant=northwind]").inner_text().split())
    for said in ("Northwind", "Jobs today", "Failures", "Licences free", "Approvals 0"):
        assert said in northwind, northwind
    rows = card.locator("tbody tr[data-tenant]")
    sort = card.get_by_label("Sort by")
    sort.select_option(label="Tenant name")
    page.wait_for_url("**sort=name**")
    card.locator("tbody tr[data-tenant]").first.wait_for()
    names = [rows.nth(i).get_attribute("data-tenant") for i in range(rows.count())]
    assert names == ["contoso", "fabrikam", "northwind"]
    assert page.locator(".board-table").get_by_label("Sort by").input_value() == "name"

    # At 1280 px the column headers sort, and the list is not shown.
    page.set_viewport_size({"width": 1280, "height": 900})
    assert not page.locator(".board-table").get_by_label("Sort by").is_visible()
    assert page.locator(".board-table thead").is_visible()


def test_the_days_jobs_of_every_kind_still_fit_a_1280_pixel_screen(page, screenshot):
    """newcomer24: in the demo, a restore cancelled its person's scheduled deletion, and
    Northwind's "1 cancelled" (kept on one line) widened Jobs today and This week until Next 7
    days went behind the card's scroll bar. A count's words wrap inside its badge instead."""
    try:
        seeded_with_seats_and_a_secret_ending()
        northwind = SimpleNamespace(tenant=Tenant.objects.get(slug="northwind"))
        who = person(northwind, "Ada", "Byron")
        now = timezone.now()
        for status in ("succeeded", "cancelled", "choice", "running", "held"):
            job(northwind, who, "join", created=now - timedelta(minutes=5), hours=0, status=status)
        admin = make_person("msp.admin", Role.MSP_ADMIN, all_tenants=True)
        sign_in(page, admin.username, PASSWORD)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto("/")
        row = page.locator(".board-table tr[data-tenant=northwind]")
        row.get_by_text("1 needs a choice").first.wait_for()
        screenshot("dashboard-1280-every-kind-of-job")

        card = page.locator(".board-table")
        fits = card.evaluate("e => e.scrollWidth <= e.clientWidth")
        assert fits, "the Tenants card scrolls sideways"
        said = " ".join(row.inner_text().split())
        for words in ("1 cancelled", "1 in progress", "1 planned", "1 done"):
            assert words in said, said
    finally:
        # The made-up Running job ends here: no worker holds it, and the teardown (before any
        # fixture's) waits 30 s for a Running job whenever a session worker is alive.
        Job.objects.filter(status=Job.Status.RUNNING).update(status=Job.Status.CANCELLED)
