"""The API token pages: a person's own tokens, shown once, revoked; MSP admins see all."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.api import tokens
from provisioning.api.models import ApiToken
from tests.factories import PASSWORD, signed_in

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db

ROLES = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


def create(client, **fields):
    data = {"name": "HaloPSA", "expires_on": f"{timezone.localdate() + timedelta(days=30)}"}
    return client.post(reverse("api_token_create"), data | fields)


def clear_token_in(response) -> str:
    return re.search(r'value="(mpp_[^"]+)"', response.content.decode()).group(1)


@pytest.mark.parametrize("role", ROLES)
def test_a_person_makes_a_token_that_is_shown_once_and_works(client, alpha, bravo, role):
    person = alpha.people[role]
    signed_in(client, person)
    form = client.get(reverse("api_token_create")).content.decode()
    assert "Alpha Ltd" in form and "Bravo GmbH" not in form  # only their tenants offered
    response = create(client, read_only="on", tenants=[alpha.tenant.pk])
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    clear = clear_token_in(response)
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 200
    token = ApiToken.objects.get(user=person)
    assert token.read_only and list(token.tenants.all()) == [alpha.tenant]
    listing = client.get(reverse("api_tokens")).content.decode()
    assert "HaloPSA" in listing and token.prefix in listing and clear not in listing
    assert AuditEvent.objects.filter(action="api_token.create", actor_username=person.username)


def test_the_expiry_defaults_to_90_days_and_is_bounded(client, alpha):
    signed_in(client, alpha.technician)
    expected = f"{timezone.localdate() + timedelta(days=90):%Y-%m-%d}"
    assert expected in client.get(reverse("api_token_create")).content.decode()
    for days in (0, -3, 367, 10_000):
        day = timezone.localdate() + timedelta(days=days) if days < 10_000 else "9999-12-31"
        response = create(client, expires_on=f"{day}")
        assert response.status_code == 200 and b"mpp_" not in response.content
    assert not ApiToken.objects.exists()
    create(client, expires_on=f"{timezone.localdate() + timedelta(days=366)}")
    (token,) = ApiToken.objects.all()
    assert token.expires_at - timezone.now() <= tokens.MAX_LIFETIME


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"name": "x" * 81}, "at most 80 characters"),
        ({"name": "bad\x00name"}, "Null characters are not allowed"),
        ({"name": "bad\x1bname"}, "no control characters"),
        ({"name": "<script>"}, "no control characters, &lt; or &gt;"),
        ({"expires_on": "soon"}, "Enter a valid date."),
        ({"expires_on": ""}, "This field is required."),
        ({"tenants": ["not-a-number"]}, "is not a valid value"),
        # An id beyond a bigint was a 500 (OverflowError on SQLite, DataError on PostgreSQL).
        ({"tenants": ["9" * 30]}, "is not a valid value"),
    ],
)
def test_bad_input_makes_no_token_and_says_why(client, alpha, fields, message):
    signed_in(client, alpha.technician)
    response = create(client, **fields)
    body = response.content.decode()
    assert response.status_code == 200 and "mpp_" not in body
    assert "Nothing was saved" in body and message in body
    assert "<script>" not in body
    assert not ApiToken.objects.exists()


def test_another_tenant_cannot_be_chosen(client, alpha, bravo):
    signed_in(client, alpha.technician)
    create(client, tenants=[bravo.tenant.pk])
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_a_person_revokes_their_own_token_after_confirming(client, alpha, role):
    person = alpha.people[role]
    clear = token_for(person)
    token = ApiToken.objects.get(user=person)
    signed_in(client, person)
    url = reverse("api_token_revoke", kwargs={"api_token_id": token.pk})
    assert client.get(url).status_code == 200
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 200
    assert client.post(url).status_code == 302
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1
    client.post(url)  # twice: revoked once
    assert AuditEvent.objects.filter(action="api_token.revoke").count() == 1


@pytest.mark.parametrize("role", ROLES)
def test_another_persons_token_is_404(client, alpha, bravo, role):
    token_for(bravo.technician, name="Not yours")
    token_for(
        alpha.account_manager if role != Role.ACCOUNT_MANAGER else alpha.technician,
        name="Not yours",
    )
    signed_in(client, alpha.people[role])
    for token in ApiToken.objects.exclude(user=alpha.people[role]):
        url = reverse("api_token_revoke", kwargs={"api_token_id": token.pk})
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    listing = client.get(reverse("api_tokens")).content.decode()
    assert "Not yours" not in listing


@pytest.mark.parametrize("role", ROLES)
def test_everyones_tokens_is_for_msp_admins_only(client, alpha, role):
    signed_in(client, alpha.people[role])
    assert client.get(reverse("api_tokens_all")).status_code == 403


def test_an_msp_admin_lists_and_revokes_anyones_token(client, alpha, bravo, msp_admin):
    clear = token_for(bravo.client_admin, name="Bravo RMM")
    token = ApiToken.objects.get(user=bravo.client_admin)
    signed_in(client, msp_admin)
    page = client.get(reverse("api_tokens_all")).content.decode()
    assert "Bravo RMM" in page and "ca-bravo" in page
    response = client.post(reverse("api_token_revoke", kwargs={"api_token_id": token.pk}))
    assert response.status_code == 302 and response["Location"] == reverse("api_tokens_all")
    assert ApiClient(clear).get("/api/v1/tenants").status_code == 401
    event = AuditEvent.objects.get(action="api_token.revoke")
    assert event.actor_username == "msp-admin"


def test_anonymous_is_sent_to_sign_in(client):
    for name in ("api_tokens", "api_token_create", "api_tokens_all"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_token_pages_are_linked_from_the_navigation_and_link_the_docs(client, alpha):
    signed_in(client, alpha.client_admin)
    page = client.get(reverse("mfa"), follow=True).content.decode()
    assert reverse("api_tokens") in page
    page = client.get(reverse("api_tokens")).content.decode()
    assert "/api/v1/docs" in page


def test_the_reference_page_links_back_to_the_portal_and_the_tokens(client, alpha):
    """The reference is Swagger UI's page, without the portal's sidebar: it had no way back."""
    signed_in(client, alpha.client_admin)
    page = client.get("/api/v1/docs").content.decode()
    assert '<a href="/">' in page
    assert f'<a href="{reverse("api_tokens")}">' in page


@pytest.mark.parametrize("token_id", [0, 2**31, 2**63, 10**30])
def test_a_made_up_token_id_is_404(client, alpha, msp_admin, token_id):
    signed_in(client, msp_admin)
    url = f"/account/api-tokens/{token_id}/revoke/"
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404


def test_only_msp_admins_see_the_link_to_everyones_tokens(client, alpha, msp_admin):
    link = f'href="{reverse("api_tokens_all")}"'
    signed_in(client, alpha.technician)
    assert link not in client.get(reverse("api_tokens")).content.decode()
    signed_in(client, msp_admin)
    assert link in client.get(reverse("api_tokens")).content.decode()


def test_making_a_token_asks_for_the_password_again_after_five_minutes(client, alpha):
    signed_in(client, alpha.technician, seconds_ago=301)
    again = reverse("reauth") + "?next=%2Faccount%2Fapi-tokens%2Fnew%2F"
    assert client.get(reverse("api_token_create"))["Location"] == again
    assert create(client)["Location"] == again
    assert not ApiToken.objects.exists()

    client.post(reverse("reauth"), {"password": PASSWORD, "next": reverse("api_token_create")})
    assert create(client).status_code == 200
    assert ApiToken.objects.filter(user=alpha.technician).count() == 1


def trails_of(action: str) -> list:
    return sorted(
        AuditEvent.objects.filter(action=action).values_list("tenant_id", flat=True),
        key=lambda pk: pk or 0,
    )


def test_a_client_admins_token_is_on_their_tenants_trail(client, alpha, msp_admin):
    """Their tenant's auditors see the token made and revoked, as they see the person's other
    security events; MSP admins read every trail."""
    signed_in(client, alpha.client_admin)
    create(client)
    token = ApiToken.objects.get(user=alpha.client_admin)
    assert trails_of("api_token.create") == [alpha.tenant.pk]
    signed_in(client, msp_admin)
    client.post(reverse("api_token_revoke", kwargs={"api_token_id": token.pk}))
    assert trails_of("api_token.revoke") == [alpha.tenant.pk]


def test_a_token_for_some_tenants_is_on_each_of_their_trails(client, alpha, bravo, msp_admin):
    signed_in(client, msp_admin)
    create(client, tenants=[alpha.tenant.pk, bravo.tenant.pk])
    assert trails_of("api_token.create") == sorted([alpha.tenant.pk, bravo.tenant.pk])
    token = ApiToken.objects.get(user=msp_admin)
    client.post(reverse("api_token_revoke", kwargs={"api_token_id": token.pk}))
    assert trails_of("api_token.revoke") == sorted([alpha.tenant.pk, bravo.tenant.pk])


def test_a_token_for_some_tenants_names_only_its_own_tenant_on_each_trail(
    client, alpha, bravo, msp_admin
):
    """Each tenant's copy of the event lists that tenant only: Bravo's client admin reads
    their trail and exports it, and must not learn that Alpha is a client too (attack22: the
    demo's tech.cn made a token for Contoso and Northwind, and Northwind's trail said
    "tenants": ["contoso", "northwind"]), as a staff change's copies name no other client."""
    signed_in(client, msp_admin)
    create(client, tenants=[alpha.tenant.pk, bravo.tenant.pk])
    slugs = {alpha.tenant.pk: alpha.tenant.slug, bravo.tenant.pk: bravo.tenant.slug}
    for event in AuditEvent.objects.filter(action="api_token.create"):
        assert event.after["tenants"] == [slugs[event.tenant_id]]
    signed_in(client, bravo.client_admin)
    page = client.get(reverse("audit_list"), {"action": "api_token"}).content.decode()
    export = b"".join(client.get(reverse("audit_export")).streaming_content).decode()
    assert "HaloPSA" in page and "HaloPSA" in export
    for text in (page, export):
        assert alpha.tenant.slug not in text and alpha.tenant.name not in text


def test_an_msp_token_for_every_tenant_stays_msp_wide(client, alpha):
    signed_in(client, alpha.technician)
    create(client)
    assert trails_of("api_token.create") == [None]


def test_the_form_sent_again_makes_no_second_token(client, alpha):
    """A reload of the page that showed the token (the browser sends its form again), or a
    double click, makes one token: the second answer says so and shows no secret."""
    signed_in(client, alpha.technician)
    form = client.get(reverse("api_token_create")).content.decode()
    key = re.search(r'name="form_key" value="([^"]+)"', form).group(1)
    first = create(client, form_key=key)
    clear = clear_token_in(first)
    again = create(client, form_key=key)
    assert again.status_code == 302 and again["Location"] == reverse("api_tokens")
    assert ApiToken.objects.filter(user=alpha.technician).count() == 1
    assert AuditEvent.objects.filter(action="api_token.create").count() == 1
    listing = client.get(again["Location"]).content.decode()
    assert "That form was sent before" in listing and clear not in listing
    other_form = client.get(reverse("api_token_create")).content.decode()
    other_key = re.search(r'name="form_key" value="([^"]+)"', other_form).group(1)
    assert other_key != key and create(client, form_key=other_key).status_code == 200
    assert create(client, form_key="<typed>").status_code == 200  # no key: made as without
    assert ApiToken.objects.filter(user=alpha.technician).count() == 3


def test_the_sidebar_marks_the_api_token_pages_as_where_one_is(client, alpha):
    signed_in(client, alpha.technician)
    listing = client.get(reverse("api_tokens")).content.decode()
    assert f'<a href="{reverse("api_tokens")}" class="active" aria-current="page">' in listing
    form = client.get(reverse("api_token_create")).content.decode()
    assert f'<a href="{reverse("api_tokens")}" class="active">' in form  # its section
    elsewhere = client.get(reverse("mfa")).content.decode()
    assert f'<a href="{reverse("api_tokens")}">' in elsewhere
    assert f'<a href="{reverse("mfa")}" class="active" aria-current="page">' in elsewhere


def test_the_lists_name_the_zone_of_last_used(client, alpha, msp_admin):
    """A token serves several tenants in different zones: its times are the portal's
    (UTC), as on the Jobs list and the audit trail, and the column says so."""
    token_for(alpha.technician)
    ApiToken.objects.filter(user=alpha.technician).update(last_used_at=timezone.now())
    signed_in(client, alpha.technician)
    mine = client.get(reverse("api_tokens")).content.decode()
    signed_in(client, msp_admin)
    everyones = client.get(reverse("api_tokens_all")).content.decode()
    for body in (mine, everyones):
        assert "<th>Last used (UTC)</th>" in body


def test_no_tokens_yet_reads_as_every_empty_list_does(client, alpha, msp_admin):
    """Every other empty table centres its sentence in muted grey (class "empty"); the token
    lists left "No API tokens yet." at the left edge (newcomer19, on the demo)."""
    for person, page in [(alpha.technician, "api_tokens"), (msp_admin, "api_tokens_all")]:
        signed_in(client, person)
        body = client.get(reverse(page)).content.decode()
        assert re.search(r'<td colspan="\d+" class="empty">No API tokens yet\.</td>', body), page
