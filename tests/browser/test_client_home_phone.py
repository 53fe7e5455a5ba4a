"""A client admin's home on a phone: their recent jobs and audit trail say who did what to
whom on the screen, not behind each card's sideways scroll bar."""

import uuid

import pytest

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_tenant_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_recent_jobs_and_the_audit_trail_fit_a_phone(page, screenshot):
    world = make_tenant_world(f"home-{uuid.uuid4().hex[:6]}", "Contoso")
    sign_in(page, world.client_admin.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/tenants/{world.tenant.slug}/home/")
    jobs, audit = page.locator("#recent-jobs"), page.locator("#audit")
    audit.locator("tbody tr").first.wait_for()
    screenshot("client-home-390")

    for card in (jobs, audit):
        assert card.evaluate("e => e.scrollWidth <= e.clientWidth"), "the card scrolls sideways"
    job = jobs.locator("tbody tr").first
    assert world.identity.display_name in job.inner_text()
    assert job.locator(".badge").is_visible()
    sign_in_event = audit.locator("tbody tr", has_text="Signed in").first
    assert world.client_admin.username in sign_in_event.inner_text().casefold() or (
        world.client_admin.get_full_name() in sign_in_event.inner_text()
    )
    right = audit.bounding_box()["x"] + audit.bounding_box()["width"]
    badge = sign_in_event.locator(".badge").bounding_box()
    assert badge["x"] + badge["width"] <= right, "the event's result is past the card's edge"
