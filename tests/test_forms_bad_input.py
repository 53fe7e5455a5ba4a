"""Bad input re-renders the form with a clear message, and nothing is saved."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.audit.models import AuditEvent
from tenants.models import DirectoryConnection, RoleTemplate, Tenant
from tests.factories import signed_in
from tests.test_changes_audited import ROLE_FORM

User = get_user_model()

HUGE = "x" * 10_000

ROLE_CASES = [
    ({"name": ""}, "This field is required."),
    ({"name": "   "}, "This field is required."),
    ({"name": HUGE}, "Ensure this value has at most 80 characters"),
    ({"name": "<script>alert(1)</script>"}, "&lt; and &gt; are not allowed"),
    ({"groups": "Sales\n<img src=x onerror=alert(1)>"}, "&lt; and &gt; are not allowed"),
    ({"groups": HUGE}, "Each line may be at most 256 characters"),
    ({"domain": "evil.example"}, "is not one of this tenant&#x27;s domains"),
    ({"username_rule": "{first}.{surname}@{domain}"}, "Unknown placeholder {surname}"),
    ({"username_rule": "{first}.{last}"}, "must end with @{domain}"),
    ({"username_rule": "{first.{last}@{domain}"}, "unbalanced braces"),
    ({"usage_location": "Britain"}, "two-letter country code"),
    ({"usage_location": "UK"}, "UK is not an ISO 3166 country code: use GB."),
    ({"name": "Alpha Ltd Sales"}, "exists already"),
    # The attributes a template gives its joiners are a person's attributes in the
    # directory: the one plain-text rule (portal/plain_text.py), formulas included.
    ({"department": '=HYPERLINK("https://evil.example")'}, "as a spreadsheet formula does"),
    ({"job_title": "+Manager"}, "as a spreadsheet formula does"),
    ({"company": "@SUM(A1)"}, "as a spreadsheet formula does"),
    ({"office": "-2+3"}, "as a spreadsheet formula does"),
    # A control character (a C1 one from a mis-decoded file, or a fuzzer's): no page may
    # show it (the Nu checker's "forbidden code point" on the audit trail).
    ({"department": "Sales\x81"}, "Holds an invisible control character (U+0081)"),
    ({"groups": "Sales\nSupport\x07"}, "A line holds a control character"),
]


@pytest.mark.parametrize("change,message", ROLE_CASES)
def test_role_template_form_rejects(client, alpha, change, message):
    client.force_login(alpha.technician)
    before = (RoleTemplate.objects.count(), AuditEvent.objects.count())
    url = reverse("role_create", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, {**ROLE_FORM, **change})
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body
    assert "Nothing was saved" in body
    assert "<script>alert(1)</script>" not in body and "<img src=x" not in body
    assert (RoleTemplate.objects.count(), AuditEvent.objects.count()) == before


TENANT_FORM = {
    "name": "Delta",
    "slug": "",
    "primary_domain": "delta.test",
    "other_domains": "",
    "default_usage_location": "GB",
    "time_zone": "Europe/London",
    "tags": "",
    "notes": "",
    "is_active": "on",
}
TENANT_CASES = [
    ({"name": ""}, "This field is required."),
    ({"name": HUGE}, "at most 120 characters"),
    ({"name": "<b>Delta</b>"}, "&lt; and &gt; are not allowed"),
    ({"primary_domain": "not a domain"}, "is not a domain name"),
    ({"other_domains": "ok.test\nbad_domain"}, "is not a domain name"),
    ({"name": "Alpha Ltd"}, "already exists"),
    ({"slug": "alpha"}, "already exists"),
    ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
    ({"notes": HUGE}, "at most 4000 characters"),
    ({"default_usage_location": "EU"}, "EU is not an ISO 3166 country code such as GB"),
]


@pytest.mark.parametrize("change,message", TENANT_CASES)
def test_tenant_form_rejects(client, alpha, msp_admin, change, message):
    signed_in(client, msp_admin)
    before = (Tenant.objects.count(), AuditEvent.objects.count())
    response = client.post(reverse("tenant_create"), {**TENANT_FORM, **change})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert (Tenant.objects.count(), AuditEvent.objects.count()) == before


# Editing: the same refusals, and the page still names and links the tenant as it is stored
# (the form's half-cleaned copy had an empty slug, and the page's links a 500).
EDIT_CASES = [
    case for case in TENANT_CASES if case[0] not in ({"name": "Alpha Ltd"}, {"slug": "alpha"})
]


@pytest.mark.parametrize("change,message", EDIT_CASES)
def test_tenant_edit_form_rejects_and_keeps_the_stored_tenant(
    client, alpha, bravo, msp_admin, change, message
):
    signed_in(client, msp_admin)
    before = (Tenant.objects.values().get(pk=alpha.tenant.pk), AuditEvent.objects.count())
    url = reverse("tenant_edit", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, {**TENANT_FORM, "slug": "", **change})
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert f'href="{reverse("tenant_detail", kwargs={"tenant": "alpha"})}"' in page
    assert "<title>Edit Alpha Ltd" in page
    assert (Tenant.objects.values().get(pk=alpha.tenant.pk), AuditEvent.objects.count()) == before


ENTRA_FORM = {
    "directory_id": "0b7c2d54-4f8f-4a55-b0d5-111111111111",
    "client_id": "0b7c2d54-4f8f-4a55-b0d5-222222222222",
    "secret": "s3cret",
    "secret_expires_on": "",
    "login_base_url": "",
    "graph_base_url": "",
}
CONNECTION_CASES = [
    ({"client_id": "abc"}, "is a GUID"),
    ({"directory_id": "<x>"}, "directory ID (a GUID)"),
    ({"secret": ""}, "Enter the client secret"),
    ({"graph_base_url": "http://graph.example"}, "Use an https:// address"),
    ({"secret_expires_on": "someday"}, "Enter a valid date"),
]


@pytest.mark.parametrize("change,message", CONNECTION_CASES)
def test_connection_form_rejects(client, msp_admin, change, message):
    tenant = Tenant.objects.create(name="Echo", slug="echo", primary_domain="echo.test")
    signed_in(client, msp_admin)
    url = reverse("connection_create", kwargs={"tenant": tenant.slug, "kind": "entra"})
    response = client.post(url, {**ENTRA_FORM, **change})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not DirectoryConnection.objects.filter(tenant=tenant).exists()


STAFF_FORM = {
    "username": "sam",
    "first_name": "Sam",
    "last_name": "",
    "email": "",
    "role": "client_admin",
    "password": "a-long-enough-passphrase-1",
    "is_active": "on",
}


def test_staff_form_rules(client, alpha, bravo, msp_admin):
    signed_in(client, msp_admin)
    url = reverse("staff_create")
    cases = [
        ({"tenants": [alpha.tenant.pk, bravo.tenant.pk]}, "exactly one tenant"),
        ({"tenants": []}, "exactly one tenant"),
        ({"role": "technician", "tenants": []}, "Assign at least one tenant"),
        ({"username": "tech-alpha", "tenants": [alpha.tenant.pk]}, "Another person has this"),
        ({"password": "123", "tenants": [alpha.tenant.pk]}, "too short"),
        ({"first_name": "<script>", "tenants": [alpha.tenant.pk]}, "are not allowed"),
    ]
    before = AuditEvent.objects.count()
    for change, message in cases:
        response = client.post(url, {**STAFF_FORM, **change})
        assert response.status_code == 200 and message in response.content.decode(), change
    assert AuditEvent.objects.count() == before


def test_a_new_staff_member_has_no_role_until_one_is_chosen(client, msp_admin):
    """The empty form chose MSP admin (the first role, every right) for whoever was added
    without a look at the role; the admin now picks one."""
    signed_in(client, msp_admin)
    url = reverse("staff_create")
    body = client.get(url).content.decode()
    role = body[body.index('name="role"') : body.index("</select>", body.index('name="role"'))]
    assert '<option value="" selected>Choose a role</option>' in role, role
    # Its switch says what it does, in the list's word (Django's "Is active" said neither).
    assert "Is active" not in body
    assert '<label for="id_is_active">Active: may sign in</label>' in body
    response = client.post(url, {**STAFF_FORM, "role": ""})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not User.objects.filter(username="sam").exists()


def test_msp_admin_cannot_demote_themselves(client, msp_admin):
    signed_in(client, msp_admin)
    url = reverse("staff_edit", kwargs={"person_id": msp_admin.pk})
    data = {**STAFF_FORM, "username": msp_admin.username, "role": "technician", "all_tenants": "on"}
    response = client.post(url, data)
    assert "cannot take your own MSP admin role away" in response.content.decode()
    msp_admin.profile.refresh_from_db()
    assert msp_admin.profile.role == "msp_admin"


def test_new_tenant_form_starts_with_no_tags(client, msp_admin):
    """The empty form's tags box is empty: it showed the model's default list as "[]",
    which saving as it was made a tag "[]" on the new tenant."""
    signed_in(client, msp_admin)
    form = client.get(reverse("tenant_create")).context["form"]
    assert form["tags"].value() in ("", None)
    assert 'value="[]"' not in client.get(reverse("tenant_create")).content.decode()


@pytest.mark.parametrize("kind", ["okta", "scim"])
def test_okta_and_scim_forms_do_not_speak_of_entra(client, msp_admin, kind):
    """The expiry's help named Entra's app registration on the Okta and SCIM forms too."""
    tenant = Tenant.objects.create(name="Foxtrot", slug="foxtrot", primary_domain="fox.test")
    signed_in(client, msp_admin)
    url = reverse("connection_create", kwargs={"tenant": tenant.slug, "kind": kind})
    body = client.get(url).content.decode()
    assert "Credential expires on" in body and "Entra" not in body
