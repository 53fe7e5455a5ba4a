"""The adopt page's "Adopt anyway" box, in the narrow column beside the form, sits on the
line of its label (it stood alone, its label on the line below)."""

import pytest

from tests.browser.conftest import assert_the_button_follows_the_dry_run, sign_in
from tests.factories import PASSWORD
from tests.provisioning.inventory.test_adopt_views import people, url  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_adopt_anyway_box_sits_beside_its_label(page, screenshot, alpha, people):  # noqa: F811
    sign_in(page, alpha.technician.username, PASSWORD)
    page.goto(
        url("person_adopt", alpha, people["bob"]) + f"?preview=1&templates={alpha.template.pk}"
    )
    box = page.locator("#id_confirm_changes")
    label = page.locator("label[for=id_confirm_changes]")
    screenshot("adopt-confirm-changes")
    box_at, label_at = box.bounding_box(), label.bounding_box()
    assert label_at["y"] < box_at["y"] + box_at["height"], (box_at, label_at)
    assert label_at["x"] > box_at["x"] + box_at["width"]
    # On a tablet or a phone each badge stays one pill of one line ("In scope" broke in two).
    for width in (900, 390):
        page.set_viewport_size({"width": width, "height": 900})
        heights = page.locator("main .badge").evaluate_all(
            "badges => badges.map(badge => badge.getBoundingClientRect().height)"
        )
        assert max(heights) < 1.5 * min(heights), (width, heights)
    screenshot("adopt-phone")
    # Their accounts on a phone: sign-in, what they hold and scope on the screen, not behind
    # the card's scroll bar.
    accounts = page.locator("table.accounts").evaluate(
        "table => { const card = table.closest('.card');"
        " return card.scrollWidth - card.clientWidth }"
    )
    assert accounts <= 0, f"their accounts scroll {accounts} px sideways"
    page.set_viewport_size({"width": 1280, "height": 900})
    adopt = page.get_by_role("button", name="Adopt")
    assert_the_button_follows_the_dry_run(page, adopt, screenshot, "adopt")


def test_the_drift_pages_accept_form_fits_its_card_on_a_small_laptop(page, screenshot, alpha):
    """Opened in the table's last column, the reason box stood past the card's edge (the
    column as narrow as its Converge button, the box its default 20 characters)."""
    from tests.provisioning.inventory.test_drift_views import item

    item(alpha, name="Engineering Team")
    sign_in(page, alpha.technician.username, PASSWORD)
    page.set_viewport_size({"width": 1024, "height": 900})
    page.goto(f"/tenants/{alpha.tenant.slug}/drift/")
    page.locator("summary", has_text="Accept").click()
    reason = page.locator(".act-form input[id^=accept-]")
    card = reason.evaluate("box => box.closest('.card').getBoundingClientRect().right")
    box = reason.bounding_box()
    screenshot("drift-accept-1024")
    assert box["x"] + box["width"] <= card, (box, card)


def test_the_bulk_adopt_search_box_is_as_wide_and_tall_as_the_filters_beside_it(
    page,
    screenshot,
    alpha,
    people,  # noqa: F811
):
    """The Search box (type=search) had none of the form's input styling: a small bare box
    beside the full-width Sign-in and Scope lists."""
    sign_in(page, alpha.technician.username, PASSWORD)
    page.goto(url("people_adopt", alpha))
    search = page.locator("#adopt-filter input[name=q]").bounding_box()
    sign_in_list = page.locator("#adopt-filter select").first.bounding_box()
    screenshot("adopt-people-filters")
    assert search["width"] >= 0.95 * sign_in_list["width"], (search, sign_in_list)
    assert search["height"] >= 0.9 * sign_in_list["height"], (search, sign_in_list)
