"""A person's *Desired vs actual, per directory* on a phone: a long licence's part number
(O365_BUSINESS_PREMIUM) in both columns. The live server and the sandbox directory over HTTPS
(the join runs in-process)."""

import uuid

import pytest

from portal.models import Role
from provisioning import services
from provisioning.models import Job
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def standard(on_sandbox):
    """Ada Byron, joined with Microsoft 365 Business Standard and two groups."""
    slug = f"compare-{uuid.uuid4().hex[:6]}"
    skus = [{"sku_part_number": "O365_BUSINESS_PREMIUM", "seats": 5}]
    dirs = make_directories(
        on_sandbox,
        slug,
        ("entra",),
        entra_extra={"skus": skus},
        licenses=["O365_BUSINESS_PREMIUM"],
        groups=["Staff", "VPN Users"],
    )
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    upn = f"ada.byron@{dirs.tenant.primary_domain}"
    request = services.OnboardingRequest("Ada", "Byron", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    assert drive(job).status == Job.Status.SUCCEEDED
    dirs.identity = job.identity
    return dirs


def test_desired_vs_actual_shows_both_columns_on_a_phone(page, screenshot, standard):
    """newcomer24: at 390 px the comparison's Actual column went past the card's edge, the
    licence's part number (one unbreakable word in a chip, in each column) and the row
    labels' 9rem leaving it no room: the in-sync values a reader checks were cut off."""
    sign_in(page, standard.technician.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/tenants/{standard.tenant.slug}/people/{standard.identity.pk}/")
    view = page.locator(".directory-view").first
    view.locator(".badge.ok", has_text="in sync").wait_for()
    screenshot("identity-compare-390")

    assert page.evaluate(SIDEWAYS) == [], "a card scrolls sideways"
    card = view.locator("xpath=ancestor::section[contains(@class, 'card')]")
    right = card.evaluate("e => e.getBoundingClientRect().right")
    licences = view.locator("table.compare tr", has_text="Licences")
    for chip in licences.locator(".chip").all():
        assert chip.evaluate("e => e.getBoundingClientRect().right") <= right
