"""The client report an account manager shows on a phone (390 px): the licence tables (seats
in use, licence waste) stack with their cells labelled instead of scrolling their cards
sideways (a long SKU name and five to eight number columns)."""

import pytest
from django.utils import timezone

from portal.models import Role
from reports import licences
from reports.licences import SkuSeats, Snapshot
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.browser.test_wide_tables_phone import LABELS
from tests.factories import PASSWORD, make_person
from tests.reports.test_licence_waste import world  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEATS = (("EMS", 85, 55), ("O365_BUSINESS_PREMIUM", 40, 39), ("SPE_E3", 60, 10))


def test_the_licence_tables_stack_on_a_phone(page, screenshot, world):  # noqa: F811
    for connection in world.tenant.connections.filter(kind="entra"):
        reading = tuple(SkuSeats(*s) for s in SEATS)
        licences.store(Snapshot(connection.pk, timezone.now(), reading))
    manager = make_person("am.report", Role.ACCOUNT_MANAGER, [world.tenant])
    sign_in(page, manager.username, PASSWORD)
    page.goto(f"/reports/{world.tenant.slug}/")
    tables = page.locator("table.licence-table, table.waste-table")
    assert tables.count() == 2
    for table in tables.all():
        assert table.locator("thead").is_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot("report-licences-390")
    assert page.evaluate(SIDEWAYS) == []
    for table in tables.all():
        rows = table.evaluate(LABELS)
        assert rows and all(labels and all(labels) for labels in rows), rows
