"""The dashboard on a laptop's screen: the page never scrolls sideways; a table wider than
the screen scrolls inside its card, with the header and its filter whole."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.models import Role
from reports import licences
from reports.licences import SkuSeats, Snapshot
from tenants.models import Tenant
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEATS = (("EMS", 85, 55), ("O365_BUSINESS_PREMIUM", 30, 27), ("SPE_E3", 60, 7))


def test_the_dashboard_fits_a_1280_pixel_screen(page, screenshot):
    call_command("seed_demo")
    tenants = list(Tenant.objects.all())
    for tenant in tenants:
        for connection in tenant.connections.filter(kind="entra"):
            connection.secret_expires_on = timezone.localdate() + timedelta(days=21)
            connection.save(update_fields=["secret_expires_on"])
            reading = tuple(SkuSeats(*s) for s in SEATS)
            licences.store(Snapshot(connection.pk, timezone.now(), reading))
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
