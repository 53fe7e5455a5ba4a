"""A leaver's pages on a phone (390 px): the person's scheduled work and the job's "To do
outside the portal" list stay inside their cards; a long username broke out of both."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.models import Identity, Job
from tests.browser.conftest import SIDEWAYS, sign_in
from tests.factories import PASSWORD
from tests.provisioning.test_views_schedule import scheduled_leave

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "marisol.quintero.hernandez@northwindindustries.example"  # no hyphen to break at


def test_a_leavers_schedule_and_checklist_fit_a_phone(page, screenshot, alpha):
    Identity.objects.filter(pk=alpha.identity.pk).update(username=LONG)
    scheduled_leave(alpha, when=timezone.now() + timedelta(days=30))
    done = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        status=Job.Status.SUCCEEDED,
        checklist=[
            {
                "connection": alpha.connection.pk,
                "kind": "shared_mailbox",
                "item": f"Convert {LONG}'s mailbox to a shared mailbox.",
                "reason": "Graph has no call that changes a mailbox's type.",
            }
        ],
    )
    # The person page's comparison with the directories is not this test's (alpha's clouds
    # are not reachable from here): it is not asked for.
    page.route("**/directories/", lambda route: route.abort())
    sign_in(page, alpha.technician.username, PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    person = f"/tenants/{alpha.tenant.slug}/people/{alpha.identity.pk}/"
    for path, name in [(person, "leaver-person"), (f"/jobs/{done.pk}/", "leaver-job")]:
        page.goto(path)
        screenshot(f"{name}-390")
        assert page.evaluate(SIDEWAYS) == [], path
    page.goto(person)
    cancel = page.locator("#lifecycle button", has_text="Cancel")
    card = page.locator("#lifecycle").bounding_box()
    box = cancel.bounding_box()
    assert box["x"] + box["width"] <= card["x"] + card["width"], (box, card)
