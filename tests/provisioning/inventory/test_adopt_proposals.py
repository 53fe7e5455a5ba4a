"""Taking over a directory on day one: the client's people hold access no role template of the
portal explains yet, so bulk adoption proposed no template for anyone (the demo's Contoso: 118
of 118 adopted with none). The preview now proposes a role template for each set of access
that several people hold alike, and its link opens the role form filled in with it; once it is
saved, the preview adopts those people with it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from provisioning.inventory import matching, scope
from provisioning.inventory.models import Resource
from tests.provisioning.inventory.test_adopt_views import CATALOGUE, account, url

pytestmark = pytest.mark.django_db


@pytest.fixture
def alike(alpha):
    """Three people in Alpha's Entra ID with VPN Users and an E3 licence (the Sales template
    gives the team, E3 and the CRM, so it would add to them), and one with VPN Users only."""
    for access_kind, names in CATALOGUE["entra"].items():
        for remote_id, name in names.items():
            Resource.objects.create(
                connection=alpha.connection, kind=access_kind, remote_id=remote_id, name=name
            )
    for name in ("cy", "di", "ed"):
        account(alpha, "entra", name, group_ids=["g-vpn"], licence_ids=["sku-e3"])
    account(alpha, "entra", "fay", group_ids=["g-vpn"])
    scope.apply_scope(alpha.tenant)
    matching.rematch(alpha.tenant)
    return alpha


def test_the_preview_proposes_a_template_for_access_several_people_hold_alike(client, alike):
    client.force_login(alike.technician)
    page = client.get(url("people_adopt", alike))
    assert page.status_code == 200
    assert page.context["preview"].without_template == 4
    html = page.content.decode()
    assert "Role templates to make" in html
    proposal = page.context["proposals"][0]
    assert (proposal.people, proposal.groups, proposal.licenses) == (3, ["VPN Users"], ["SPE_E3"])
    link = proposal.url
    assert link in html.replace("&amp;", "&")
    # The licence as the admin center names it, its part number beside.
    assert 'Microsoft 365 E3</span> <span class="mono muted">SPE_E3</span>' in html

    # The link opens the role form filled in with that access.
    form = client.get(link)
    assert form.status_code == 200
    text = form.content.decode()
    assert "\nVPN Users</textarea>" in text and "\nSPE_E3</textarea>" in text
    assert 'value="VPN Users"' in text  # the name, to change

    saved = client.post(
        link,  # the form posts to its own address, the proposal's
        {
            "name": "Field staff",
            "groups": "VPN Users",
            "licenses": "SPE_E3",
            "username_rule": "{first}.{last}@{domain}",
        },
    )
    # Back to the preview, where they are now adopted with it.
    assert (saved.status_code, saved.url) == (302, url("people_adopt", alike))
    after = client.get(url("people_adopt", alike)).context["preview"]
    assert after.templates == {"Field staff": 3} and after.without_template == 1
    assert client.get(url("people_adopt", alike)).context["proposals"] == []


def test_a_bad_prefill_opens_the_empty_form(client, alike):
    client.force_login(alike.technician)
    create = reverse("role_create", kwargs={"tenant": alike.tenant.slug})
    for bad in (
        {"name": "x" * 200},
        {"groups": "<b>VPN</b>"},
        {"licenses": "\n".join(f"sku{i}" for i in range(500))},
    ):
        page = client.get(create, bad)
        assert page.status_code == 200, bad
        form = page.context["form"]
        assert [form[f].value() for f in ("name", "groups", "licenses")] == ["", "", ""], bad
    assert client.get(create, {"name": "Field"}).context["form"]["name"].value() == "Field"
