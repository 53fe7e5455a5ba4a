"""A bulk adoption left to the worker: the page follows it to its end without a reload (it
said its counts went down as people were adopted, and stayed as it was)."""

import pytest

from provisioning.inventory import views_adopt
from provisioning.models import Identity
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD
from tests.provisioning.inventory.test_adopt_views import people, url  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_adopt_page_follows_the_workers_adoption_to_its_end(
    page,
    screenshot,
    alpha,
    people,  # noqa: F811
    worker,
    monkeypatch,
):
    monkeypatch.setattr(views_adopt, "INLINE_LIMIT", 1)  # Ada and Bob: the worker's
    sign_in(page, alpha.technician.username, PASSWORD)
    page.goto(url("people_adopt", alpha))
    page.get_by_role("button", name="Adopt 2 people").click()
    page.wait_for_url("**adopting=*")
    progress = page.locator("#adopt-progress")
    # the worker's summary, told by the page itself (htmx), with the counts that are left
    progress.filter(has_text="Adopted 2 people").wait_for(timeout=60_000)
    screenshot("adopt-followed")
    assert page.locator("#adoptable").inner_text() == "0"
    assert (
        Identity.objects.filter(tenant=alpha.tenant)
        .filter(username__in=["ada@alpha.test", "bob@alpha.test"])
        .count()
        == 2
    )
    assert page.locator("#adopt-results[data-hx-trigger]").count() == 0  # it stopped
