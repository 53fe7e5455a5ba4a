"""A technician onboards a person in the browser and watches the job reach "succeeded": the
live server, the sandbox directory over HTTPS and a real Celery worker on the test database."""

import uuid

import pytest

from portal.models import Role
from tests.browser.conftest import assert_the_button_follows_the_dry_run, sign_in
from tests.factories import PASSWORD, make_person
from tests.provisioning.directories import make_directories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def contoso(on_sandbox):
    slug = f"contoso-{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    return dirs


def test_technician_onboards_a_person_and_watches_the_job_succeed(
    page,
    screenshot,
    contoso,
    worker,  # noqa: F811
):
    upn = f"ada.lovelace@{contoso.tenant.primary_domain}"
    sign_in(page, contoso.technician.username, PASSWORD)
    page.click("nav >> text=Onboard")  # one tenant: straight to its form
    page.wait_for_url(f"**/tenants/{contoso.tenant.slug}/onboard/")

    page.get_by_label(contoso.template.name, exact=True).check()
    page.type("#id_job_title", "Analyst")
    page.type("#id_first_name", "Ada")
    page.type("#id_last_name", "Lovelace")  # typing alone (no blur) refreshes the dry run

    page.locator("#preview-username").filter(has_text=upn).wait_for()
    plan = page.locator("#preview")
    plan.locator("li", has_text=f"Create user {upn}").wait_for()
    plan.locator("li", has_text="Assign licence SPE_E3 (100 available)").wait_for()
    plan.locator("li", has_text="Add to group Sales").first.wait_for()
    plan.locator("li", has_text="Assign app Salesforce").wait_for()
    plan.locator(".plan-verdict", has_text="Ready to queue").wait_for()
    screenshot("onboarding-form-with-plan")
    # Each one-line box is as tall as the others, however long the help under its neighbour
    # (a field beside a longer help text stretched its own box).
    page.set_viewport_size({"width": 1440, "height": 900})
    heights = page.locator(".onboard-layout input[type=text]").evaluate_all(
        "boxes => boxes.map(box => box.getBoundingClientRect().height)"
    )
    assert len(set(heights)) == 1, heights
    # Beside the form on a small laptop, the dry run wraps a long username instead of
    # clipping it at the card's edge.
    page.set_viewport_size({"width": 1024, "height": 900})
    long_upn = f"ada.lovelace.countess.of.lovelace@{contoso.tenant.primary_domain}"
    page.fill("#id_username", long_upn)
    page.locator("#preview-username").filter(has_text=long_upn).wait_for()
    clipped = page.locator(".plan-card, .plan-card *").evaluate_all(
        "boxes => boxes.filter(box => box.scrollWidth > box.clientWidth).map(box => box.className)"
    )
    assert clipped == [], clipped
    screenshot("onboarding-form-with-plan-1024")
    page.fill("#id_username", "")
    page.locator("#preview-username").filter(has_text=upn).wait_for()
    page.set_viewport_size({"width": 1280, "height": 900})
    queue = page.get_by_role("button", name="Queue onboarding")
    assert_the_button_follows_the_dry_run(page, queue, screenshot, "onboarding")

    queue.click()
    page.wait_for_url("**/jobs/*/")
    page.locator(".message.success", has_text="Ada Lovelace").wait_for()
    # the progress partial polls every second until the job is done, then stops
    page.locator('#job-progress[data-status="succeeded"]').wait_for(timeout=90_000)
    assert page.locator("#job-progress").get_attribute("data-hx-trigger") is None
    page.locator("table.steps tr", has_text="Create user").locator(".badge.ok").wait_for()
    # Succeeded only on the read-back, which the page shows per directory.
    verified = page.locator("#job-verification")
    verified.locator("p", has_text="every directory equals the person's desired state").wait_for()
    entra_row = verified.locator("tr", has_text="Microsoft Entra ID")
    entra_row.locator("td", has_text="allowed").wait_for()
    screenshot("job-page-succeeded")

    # the person's page reads the directory: what should be there is there
    page.click("#job-progress >> text=Ada Lovelace")
    page.locator(".directory-view .badge.ok", has_text="in sync").wait_for()
    # The last row's label (Apps) kept the line under it that its cells drop: a stray stub.
    last = page.locator(".directory-view table.compare tbody tr:last-child").first
    widths = last.evaluate(
        "row => [...row.children].map(c => getComputedStyle(c).borderBottomWidth)"
    )
    assert set(widths) == {"0px"}, widths
    screenshot("identity-page-in-sync")

    page.click("nav >> text=Jobs")
    page.locator("#results tr", has_text="Ada Lovelace").locator(".badge.ok").wait_for()
    # The technician sees one tenant: the list is timed in its zone, and names it.
    zone = contoso.tenant.time_zone
    page.locator(".page-head .sub", has_text=f"Times and dates in {zone}.").wait_for()
    page.locator("#results th", has_text=f"Created ({zone})").wait_for()
    page.select_option("#id_status", "failed")  # htmx swaps the results in place
    page.locator("#results td.empty", has_text="No jobs match.").wait_for()
    page.select_option("#id_status", "")
    page.locator("#results tr", has_text="Ada Lovelace").wait_for()
    screenshot("jobs-list")

    user = contoso.entra_user(upn)
    assert user is not None and user["jobTitle"] == "Analyst"
    assert user["licenses"] == ["SPE_E3"]


def test_a_numbered_username_says_whose_address_it_passes_over(page, screenshot, contoso):
    """An account at the naming rule's address, which the portal does not manage: the dry run
    said only "Username ada.lovelace2@" and "Ready to queue". It now names who holds the
    address and leads to People to adopt them, if they are this person."""
    upn = f"ada.lovelace@{contoso.tenant.primary_domain}"
    contoso.add_entra_user(upn, "Ada", "King")
    sign_in(page, contoso.technician.username, PASSWORD)
    page.goto(f"/tenants/{contoso.tenant.slug}/onboard/")
    page.get_by_label(contoso.template.name, exact=True).check()
    page.type("#id_first_name", "Ada")
    page.type("#id_last_name", "Lovelace")
    numbered = upn.replace("lovelace@", "lovelace2@")
    page.locator("#preview-username").filter(has_text=numbered).wait_for()
    note = page.locator("#plan-username-taken")
    note.filter(has_text=f"{upn} is taken in Microsoft Entra ID (Ada King)").wait_for()
    screenshot("onboarding-numbered-username-note")
    note.get_by_role("link", name="Find their account").click()
    page.wait_for_url(f"**/tenants/{contoso.tenant.slug}/people/?q=*")
    assert page.input_value("#id_q") == upn
