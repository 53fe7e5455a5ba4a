"""A mover whose new role takes the last free seat of a licence, or finds none: the change
preview says so and offers the onboarding form's choices; the answer travels with the change.
The live server and the sandbox directory over HTTPS (the join runs in-process)."""

import uuid

import pytest

from portal.models import Role
from provisioning import services
from provisioning.models import Identity, Job
from tenants.models import RoleTemplate
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def seats(on_sandbox):
    """Ada Lovelace, Sales (SPE_E3), in a directory where VISIO has one free seat and PROJECT
    none; a role template that gives each."""
    slug = f"seats-{uuid.uuid4().hex[:6]}"
    skus = [{"sku_part_number": "VISIO", "seats": 1}, {"sku_part_number": "PROJECT", "seats": 0}]
    dirs = make_directories(on_sandbox, slug, ("entra",), entra_extra={"skus": skus})
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    assert drive(job).status == Job.Status.SUCCEEDED
    dirs.identity = job.identity
    for name, sku in (("Designer", "VISIO"), ("Planner", "PROJECT")):
        RoleTemplate.objects.create(
            tenant=dirs.tenant, name=name, groups=["Staff"], licenses=[sku], apps=[]
        )
    return dirs


def test_the_change_preview_shows_seats_and_asks_for_the_last_or_a_missing_one(
    page, screenshot, seats
):
    sign_in(page, seats.technician.username, PASSWORD)
    page.goto(f"/tenants/{seats.tenant.slug}/people/{seats.identity.pk}/")
    page.click("text=Change role / attributes")
    plan = page.locator("#preview")

    page.get_by_label("Designer", exact=True).check()
    plan.locator(".ok", has_text="+ VISIO (1 available)").wait_for()
    choice = plan.get_by_label("This takes the last free seat of VISIO: give it, or another?")
    assert choice.input_value() == ""  # taken unless told otherwise
    plan.locator(".plan-verdict", has_text="Ready to queue").wait_for()
    screenshot("mover-last-seat")

    page.get_by_label("Designer", exact=True).uncheck()
    page.get_by_label("Planner", exact=True).check()
    plan.locator(".plan-verdict", has_text="Not ready").wait_for()
    choice = plan.get_by_label("No free seat of PROJECT: what should this person get?")
    choice.select_option(label="Use EMS instead (50 available)")
    plan.locator(".ok", has_text="+ EMS (50 available)").wait_for()
    plan.locator(".plan-verdict", has_text="Ready to queue").wait_for()
    screenshot("mover-no-seat-answered")

    page.click("button:has-text('Queue the change')")
    page.wait_for_url("**/jobs/*/")
    page.locator(".message.success", has_text="change of Ada Lovelace").wait_for()
    ada = Identity.objects.get(pk=seats.identity.pk)
    assert ada.license_choices == {"PROJECT": "EMS"}
    assert sorted(t.name for t in ada.role_templates.all()) == ["Planner", "Sales"]


def test_the_dry_runs_values_get_the_columns_width(page, screenshot, seats):
    """Beside the form the dry run's label column ("Account", "Groups") took 16rem of the
    narrow card and its values broke a few letters a line (the username in four pieces)."""
    sign_in(page, seats.technician.username, PASSWORD)
    page.goto(f"/tenants/{seats.tenant.slug}/people/{seats.identity.pk}/change/")
    page.get_by_label("Designer", exact=True).check()
    table = page.locator("#preview table.compare").first
    table.wait_for()
    screenshot("mover-plan-columns")
    label = table.locator("th[scope=row]").first.bounding_box()
    value = table.locator("td").first.bounding_box()
    assert label["width"] < value["width"], (label, value)
