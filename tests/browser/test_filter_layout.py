"""The filter forms above the lists: every choice of every select reads whole, at 1280 px
and on a phone (a select cannot wrap its text: what does not fit is cut, "Hide those that
fou…")."""

import pytest
from django.urls import reverse

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each select's options measured in the select's own font, against the room the select
# gives its text (its width less its padding and the arrow).
CUT_OPTIONS = """() => {
  const canvas = document.createElement('canvas').getContext('2d');
  const cut = [];
  for (const select of document.querySelectorAll('form.filters select')) {
    const style = getComputedStyle(select);
    canvas.font = style.font;
    const room = select.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight) - 16;
    for (const option of select.options) {
      if (canvas.measureText(option.text).width > room) cut.push(select.name + ': ' + option.text);
    }
  }
  return cut;
}"""


def filter_pages(world) -> list[str]:
    tenant = {"tenant": world.tenant.slug}
    return [
        reverse("job_list"),
        reverse("audit_list"),
        reverse("people_list", kwargs=tenant),
        reverse("access_request_list", kwargs=tenant),
        reverse("drift_report", kwargs=tenant),
        reverse("stale_report", kwargs=tenant),
    ]


@pytest.mark.parametrize("width", [1280, 390])
def test_every_filter_choice_reads_whole(page, screenshot, alpha, msp_admin, width):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, msp_admin.username, PASSWORD)
    for path in filter_pages(alpha):
        page.goto(path)
        for toggle in page.locator(".filters-toggle:visible").all():
            toggle.click()  # a phone's folded filters, opened as a person would
        assert page.locator("form.filters select").count() > 0 or path != reverse("job_list")
        assert page.evaluate(CUT_OPTIONS) == [], path
    page.goto(reverse("job_list"))
    screenshot(f"job-filters-{width}")


def test_on_a_phone_the_filters_fold_so_that_the_list_comes_first(page, screenshot, alpha):
    """At 390 px the jobs' six filters filled the first screen and pushed the list below it;
    folded behind one button that says how many are set, they open with a tap. At 1280 px
    they stay open, with no button."""
    sign_in(page, alpha.technician.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(reverse("job_list") + "?status=succeeded")
    toggle = page.get_by_role("button", name="Filters · 1 set")
    form = page.locator("form.filters").bounding_box()
    screenshot("job-filters-folded-390")
    assert form["height"] < 90, form
    assert page.locator("#results").bounding_box()["y"] < 600
    assert page.get_by_label("Status").is_hidden()
    toggle.click()
    assert (
        page.get_by_label("Status").is_visible() and toggle.get_attribute("aria-expanded") == "true"
    )
    page.goto(reverse("people_list", kwargs={"tenant": alpha.tenant.slug}))
    assert page.get_by_role("button", name="Filters").is_visible()
    assert page.get_by_label("Search").is_hidden()
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.get_by_label("Search").is_visible()
    assert page.get_by_role("button", name="Filters").is_hidden()
