"""The page that confirms a role template's deletion says what the deletion does: each managed
person who holds it loses what it gives (lifecycle.template_changed asks each of them again).
It used to promise "People already onboarded keep their access" (attack17)."""

import pytest
from django.urls import reverse

from provisioning.models import Identity
from tests.factories import make_joiner

pytestmark = pytest.mark.django_db


def _delete_page(client, alpha) -> str:
    client.force_login(alpha.technician)
    url = reverse(
        "role_delete", kwargs={"tenant": alpha.tenant.slug, "template_id": alpha.template.pk}
    )
    return " ".join(client.get(url).content.decode().split())


def test_the_delete_page_says_how_many_people_lose_what_the_template_gives(client, alpha):
    make_joiner(alpha, "Mo")  # with the world's own joiner, two
    left, _ = make_joiner(alpha, "Ex")
    left.status = Identity.Status.LEFT
    left.save(update_fields=["status"])

    page = _delete_page(client, alpha)

    assert "keep their access" not in page
    assert "2 people hold this role template" in page
    assert "takes from them the groups, licences and apps it gives" in page


def test_the_delete_page_of_a_template_nobody_holds_says_so(client, alpha):
    alpha.identity.role_templates.clear()

    page = _delete_page(client, alpha)

    assert "Nobody holds this role template" in page
