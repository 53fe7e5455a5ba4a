"""The attribute mappings pages: MSP admins edit, technicians and account managers read,
client admins are refused, another tenant's people find nothing."""

import re

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tenants.models import AttributeMapping

pytestmark = pytest.mark.django_db


def url(name, world, **kwargs):
    return reverse(name, kwargs={"tenant": world.tenant.slug, **kwargs})


def edit_url(world, target="entra", attribute="job_title"):
    return url("mapping_edit", world, target=target, attribute=attribute)


def test_the_list_shows_each_target_with_its_defaults(client, alpha, msp_admin):
    client.force_login(msp_admin)
    page = client.get(url("mapping_list", alpha)).content.decode()
    for label in ("Microsoft Entra ID", "Okta", "Inbound SCIM", "jobTitle", "officeLocation"):
        assert label in page
    assert "[job_title]" in page  # the default, shown while not overridden
    assert "no office attribute" in page  # Okta's note
    assert edit_url(alpha) in page
    detail = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert url("mapping_list", alpha) in detail.content.decode()


@pytest.mark.parametrize("role", ["technician", "account_manager"])
def test_staff_read_but_do_not_edit(client, alpha, role):
    client.force_login(getattr(alpha, role))
    page = client.get(url("mapping_list", alpha))
    assert page.status_code == 200 and edit_url(alpha) not in page.content.decode()
    assert client.get(edit_url(alpha)).status_code == 403
    assert client.post(edit_url(alpha), {"expression": '"x"'}).status_code == 403
    reset = url("mapping_reset", alpha, target="entra", attribute="job_title")
    assert client.post(reset).status_code == 403
    assert not AttributeMapping.objects.exists()


def test_client_admins_are_refused(client, alpha):
    client.force_login(alpha.client_admin)
    assert client.get(url("mapping_list", alpha)).status_code == 403
    assert client.get(url("mapping_preview", alpha, target="entra")).status_code == 403


def test_another_tenant_finds_nothing(client, alpha, bravo):
    client.force_login(bravo.technician)
    assert client.get(url("mapping_list", alpha)).status_code == 404
    assert client.get(url("mapping_preview", alpha, target="entra")).status_code == 404
    assert client.get(edit_url(alpha)).status_code == 404


def test_unknown_targets_and_attributes_are_not_found(client, alpha, msp_admin):
    client.force_login(msp_admin)
    assert client.get(edit_url(alpha, attribute="password")).status_code == 404
    assert client.get(edit_url(alpha, target="scim:999")).status_code == 404
    assert client.get(edit_url(alpha, target="okta", attribute="office")).status_code == 404


def test_a_bad_expression_is_shown_where_it_goes_wrong_and_nothing_is_saved(
    client, alpha, msp_admin
):
    client.force_login(msp_admin)
    before = AuditEvent.objects.count()
    response = client.post(edit_url(alpha), {"expression": "ToUpper(Lowr([job_title]))"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Unknown function &#x27;Lowr&#x27; at 9" in page
    assert "ToUpper(Lowr([job_title]))\n        ^ Unknown function" in page  # caret under L
    response = client.post(edit_url(alpha), {"expression": "ToUpper([deparment])"})
    assert "Unknown attribute [deparment] at 9 (did you mean [department]?)" in (
        response.content.decode()
    )
    assert not AttributeMapping.objects.exists()
    assert AuditEvent.objects.count() == before


def test_save_then_reset_each_audited(client, alpha, msp_admin):
    client.force_login(msp_admin)
    page = client.get(edit_url(alpha)).content.decode()
    assert "[job_title]" in page and "Preview before saving" in page and "Pat Member-alpha" in page
    response = client.post(edit_url(alpha), {"expression": "ToUpper([job_title])"})
    assert response.status_code == 302
    row = AttributeMapping.objects.get(tenant=alpha.tenant, target="entra", attribute="job_title")
    assert row.expression == "ToUpper([job_title])"
    event = AuditEvent.objects.order_by("-pk").first()
    assert event.action == "attribute_mapping.update" and event.tenant_id == alpha.tenant.pk
    assert event.before["expression"] == "[job_title]"
    assert event.after["expression"] == "ToUpper([job_title])"
    page = client.get(url("mapping_list", alpha)).content.decode()
    assert "ToUpper([job_title])" in page and "Reset to default" in page

    reset = url("mapping_reset", alpha, target="entra", attribute="job_title")
    assert client.post(reset).status_code == 302
    assert not AttributeMapping.objects.exists()
    event = AuditEvent.objects.order_by("-pk").first()
    assert event.action == "attribute_mapping.reset"
    assert event.after["expression"] == "[job_title]"


def test_preview_shows_the_edited_expression_on_a_person_before_saving(
    client, alpha, bravo, msp_admin
):
    client.force_login(alpha.technician)
    preview = url("mapping_preview", alpha, target="entra")
    query = {
        "person": alpha.identity.pk,
        "attribute": "display_name",
        "expression": 'Join(", ", ToUpper([last_name]), [first_name])',
    }
    response = client.get(preview, query, headers={"HX-Request": "true"})
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page  # the partial alone
    assert "MEMBER-ALPHA, Pat" in page
    assert "Sales" in page  # the department from the person's attributes, by the default
    assert not AttributeMapping.objects.exists()
    # A bad edited expression is shown as an error in its row, nothing else breaks.
    response = client.get(preview, {**query, "expression": "Left([first_name])"})
    assert "Left takes 2 arguments at 1" in response.content.decode()
    # Another tenant's person is not a choice here.
    response = client.get(preview, {**query, "person": bravo.identity.pk})
    page = response.content.decode()
    assert "Member-bravo" not in page and "Choose a person to see" in page


def test_preview_of_the_inbound_side_reads_scim_names(client, alpha):
    client.force_login(alpha.account_manager)
    preview = url("mapping_preview", alpha, target="inbound-scim")
    page = client.get(preview, {"person": alpha.identity.pk}).content.decode()
    assert "[name.givenName]" in page and "pat.member@alpha.test" in page


def test_each_target_is_named_once(client, alpha, msp_admin):
    """A directory whose label is its kind's name read "Microsoft Entra ID Microsoft Entra ID"
    ("Okta Okta", the inbound SCIM side twice); the kind shows only when it says more."""
    client.force_login(msp_admin)
    page = client.get(url("mapping_list", alpha)).content.decode()
    named = [
        " ".join(re.sub(r"<[^>]+>", " ", h).split()) for h in re.findall(r"<h2>(.*?)</h2>", page)
    ]
    assert "Microsoft Entra ID" in named and "Okta" in named, named
    assert [name for name in named if name.count("Inbound SCIM") > 1] == [], named
