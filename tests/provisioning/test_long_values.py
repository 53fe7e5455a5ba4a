"""A long value (an e-mail address of 100 characters) is shown whole on the person's page and
wraps inside its card: the Desired state card's values may break anywhere (static/css)."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from provisioning.models import Identity

pytestmark = pytest.mark.django_db

LONG_MAIL = (
    "ada.lovelace-with-a-very-long-mailbox-name.for-the-finance-department"
    "@subsidiary.alpha-holdings.test"
)


def test_the_desired_state_card_shows_a_long_address_whole(client, alpha):
    Identity.objects.filter(pk=alpha.identity.pk).update(email=LONG_MAIL)
    client.force_login(alpha.client_admin)
    url = reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    )
    body = client.get(url).content.decode()
    card = body[body.index("<h2>Desired state</h2>") :]
    card = card[: card.index("</dl>")]
    assert f"<dt>E-mail</dt><dd>{LONG_MAIL}</dd>" in card
    assert 'class="props"' in body[: body.index(LONG_MAIL)]


def test_the_stylesheet_lets_card_values_wrap():
    css = Path(finders.find("css/portal.css")).read_text(encoding="utf-8")
    dd_rule = re.search(r"dl\.props dd \{([^}]*)\}", css).group(1)
    assert "overflow-wrap: anywhere" in dd_rule and "min-width: 0" in dd_rule
    columns = re.search(r"dl\.props \{([^}]*)\}", css).group(1)
    assert "minmax(0, 1fr)" in columns  # the value column may be narrower than its content
    assert re.search(r"\.grid > \* \{[^}]*min-width: 0", css)  # and so may the card
