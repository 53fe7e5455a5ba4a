"""The SCIM app pages: the connection form (only SCIM's fields, the secret bound to the base
URL), Test connection (what the app declares), and role templates that give SCIM apps."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tenants.models import DirectoryConnection, RoleTemplate
from tests.factories import signed_in
from tests.provisioning.scim_apps import (
    connect,
    connection_form,
    create_url,
    edit_url,
    make_app,
)

pytestmark = pytest.mark.django_db

TOKEN = "scim-TOKEN-do-not-leak-4e1b"  # noqa: S105 - a test value


def form(name="Slack", url="https://api.slack.example/scim/v2", **more) -> dict:
    return connection_form(name, url, **{"secret": TOKEN, **more})


def scim_apps(tenant):
    return DirectoryConnection.objects.filter(tenant=tenant, kind="scim").order_by("name")


def test_an_msp_admin_adds_several_scim_apps_with_their_tokens_sealed(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    page = client.get(create_url(alpha.tenant)).content.decode()
    assert 'name="scim_base_url"' in page and 'name="org_url"' not in page
    assert 'name="directory_id"' not in page and 'name="graph_base_url"' not in page
    assert client.post(create_url(alpha.tenant), form()).status_code == 302
    zoom = form("Zoom", "https://api.zoom.example/scim2", scim_profile="zoom")
    assert client.post(create_url(alpha.tenant), zoom).status_code == 302
    slack, zoom = scim_apps(alpha.tenant)
    assert (slack.name, zoom.name) == ("Slack", "Zoom")
    assert slack.get_secret() == TOKEN and TOKEN not in slack.secret_ciphertext
    detail = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    body = detail.content.decode()
    assert "Slack (SCIM)" in body and "Zoom (SCIM)" in body and TOKEN not in body
    assert TOKEN not in client.get(edit_url(slack)).content.decode()
    events = AuditEvent.objects.filter(action="connection.create", tenant_id=alpha.tenant.pk)
    assert events.count() == 2 and all(TOKEN not in str(e.after) for e in events)


def test_the_new_scim_app_page_has_a_title_that_reads_as_one(client, alpha, msp_admin):
    """The browser tab (and the history) said "a SCIM app connection · Alpha"."""
    signed_in(client, msp_admin)
    page = client.get(create_url(alpha.tenant)).content.decode()
    assert f"<title>New SCIM app connection · {alpha.tenant.name}" in page
    assert "<h1>Connect a SCIM app</h1>" in page


def test_a_role_template_names_its_scim_app_apart_from_a_directory_app_of_that_name(
    client, alpha, msp_admin
):
    """Fabrikam's Support gives the Okta app Zoom and the SCIM app Zoom: its row read
    "Zoom Slack Zoom"."""
    zoom = DirectoryConnection.objects.create(
        tenant=alpha.tenant, kind=DirectoryConnection.Kind.SCIM, name="Zoom"
    )
    alpha.template.apps = ["Zoom"]
    alpha.template.scim_apps = [{"connection": zoom.pk, "groups": []}]
    alpha.template.save(update_fields=["apps", "scim_apps"])
    client.force_login(msp_admin)
    page = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert '<span class="chip">Zoom</span>' in page.content.decode()
    assert '<span class="chip" title="SCIM app">Zoom (SCIM)</span>' in page.content.decode()


def test_bad_scim_app_input_is_refused_with_a_reason(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    client.post(create_url(alpha.tenant), form())
    again = client.post(create_url(alpha.tenant), form("slack"))
    assert "a SCIM app of this name already" in again.content.decode()
    private = client.post(create_url(alpha.tenant), form("Intranet", "https://10.1.2.3/scim"))
    assert "private or loopback" in private.content.decode()
    plain = client.post(create_url(alpha.tenant), form("Plain", "http://app.example/scim"))
    assert "https://" in plain.content.decode()
    oauth = client.post(create_url(alpha.tenant), form("OAuth app", scim_auth="oauth"))
    assert oauth.content.decode().count("Needed for OAuth client credentials.") == 2
    assert [c.name for c in scim_apps(alpha.tenant)] == ["Slack"]


def test_a_new_base_url_needs_the_token_again(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    client.post(create_url(alpha.tenant), form())
    slack = scim_apps(alpha.tenant).get()
    moved = client.post(
        edit_url(slack), form(url="https://other.example/scim/v2", secret="")
    ).content.decode()
    assert "enter the Token or client secret again" in moved
    kept = client.post(edit_url(slack), form(secret="", scim_profile="generic"))
    assert kept.status_code == 302
    slack.refresh_from_db()
    assert slack.scim_profile == "generic" and slack.get_secret() == TOKEN


def test_only_msp_admins_add_scim_apps_and_only_in_tenants_they_see(client, alpha, bravo):
    client.force_login(alpha.technician)
    assert client.get(create_url(alpha.tenant)).status_code == 403
    assert client.post(create_url(alpha.tenant), form()).status_code == 403
    assert client.get(create_url(bravo.tenant)).status_code == 404
    bravo_app = connect(bravo.tenant, _FakeApp(), "Bravo Slack")
    assert client.get(edit_url(bravo_app)).status_code == 404
    assert not scim_apps(alpha.tenant).exists()


class _FakeApp:
    """An app's address and token for a row that is never called."""

    base_url = "https://scim.bravo.example/v2"
    token = "bravo-token"  # noqa: S105 - a test value
    flavour = "slack"


def press_test(client, connection) -> str:
    url = reverse(
        "connection_test",
        kwargs={"tenant": connection.tenant.slug, "connection_id": connection.pk},
    )
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_test_connection_says_what_each_app_supports(client, msp_admin, alpha, on_sandbox):
    signed_in(client, msp_admin)
    slack = connect(alpha.tenant, make_app(on_sandbox, "slack", groups=["general"]), "Slack")
    page = press_test(client, slack)
    assert "Connection works" in page
    assert "PATCH groups: no: a group is replaced whole with PUT" in page
    assert "Groups: yes" in page and "Read groups: 1 found" in page
    slack.refresh_from_db()
    assert slack.scim_discovered["group_patch"] is False and slack.scim_discovered["groups"]

    zoom = connect(alpha.tenant, make_app(on_sandbox, "zoom"), "Zoom")
    page = press_test(client, zoom)
    assert "Groups: no Group resource" in page and "at most 100 a page" in page
    assert "Enterprise extension: no" in page


def test_test_connection_says_when_the_token_is_refused(client, msp_admin, alpha, on_sandbox):
    signed_in(client, msp_admin)
    app = connect(alpha.tenant, make_app(on_sandbox, "full"), "Wrong")
    app.set_secret("not-the-token")
    app.save()
    page = press_test(client, app)
    assert "Connection has a problem" in page and "The app refused the token" in page
    app.refresh_from_db()
    assert app.scim_discovered == {}


def test_test_connection_of_a_scim_app_is_for_operators_of_its_tenant(client, alpha, bravo):
    app = connect(alpha.tenant, _FakeApp(), "Slack")
    url = reverse("connection_test", kwargs={"tenant": alpha.tenant.slug, "connection_id": app.pk})
    client.force_login(alpha.account_manager)
    assert client.post(url).status_code == 403
    client.force_login(bravo.technician)
    assert client.post(url).status_code == 404


def role_url(template) -> str:
    return reverse("role_edit", kwargs={"tenant": template.tenant.slug, "template_id": template.pk})


def role_form(template, **more) -> dict:
    return {
        "name": template.name,
        "description": "",
        "groups": "\n".join(template.groups),
        "licenses": "\n".join(template.licenses),
        "apps": "\n".join(template.apps),
        "department": template.department,
        "username_rule": template.username_rule,
        "domain": "",
        **more,
    }


def test_a_technician_gives_a_role_a_scim_app_and_its_groups(client, alpha, bravo):
    slack = connect(alpha.tenant, _FakeApp(), "Slack")
    other = connect(bravo.tenant, _FakeApp(), "Bravo Chat")
    client.force_login(alpha.technician)
    page = client.get(role_url(alpha.template)).content.decode()
    assert "Give Slack" in page and "Bravo Chat" not in page
    box, groups = f"scim_{slack.pk}", f"scim_{slack.pk}_groups"
    saved = client.post(
        role_url(alpha.template), role_form(alpha.template, **{box: "on", groups: "sales\ngeneral"})
    )
    assert saved.status_code == 302
    alpha.template.refresh_from_db()
    assert alpha.template.scim_apps == [{"connection": slack.pk, "groups": ["sales", "general"]}]
    listed = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert "Slack (SCIM): sales, general" in listed.content.decode()
    smuggled = role_form(alpha.template, **{f"scim_{other.pk}": "on"})
    client.post(role_url(alpha.template), smuggled)
    alpha.template.refresh_from_db()
    assert alpha.template.scim_groups_for(other.pk) is None  # another tenant's app: ignored
    cleared = client.post(role_url(alpha.template), role_form(alpha.template, **{groups: "x"}))
    assert "Tick the app too" in cleared.content.decode()


def test_role_templates_with_scim_apps_keep_their_access_rules(client, alpha, bravo):
    connect(alpha.tenant, _FakeApp(), "Slack")
    client.force_login(alpha.account_manager)
    assert client.get(role_url(alpha.template)).status_code == 403
    client.force_login(bravo.technician)
    assert client.get(role_url(alpha.template)).status_code == 404
    assert RoleTemplate.objects.get(pk=alpha.template.pk).scim_apps == []


def test_a_scim_apps_token_goes_only_to_the_base_url_it_was_entered_for(alpha, settings):
    from tenants import endpoints
    from tenants.crypto import SecretBindingError

    allowed = endpoints.check_allowed(endpoints.Service.SCIM_APP, "https://API.Slack.com/scim/v2/")
    assert allowed.url == "https://api.slack.com/scim/v2"
    for refused in ("https://127.0.0.1/scim", "https://localhost/scim", "http://a.example/scim"):
        with pytest.raises(endpoints.EndpointError):
            endpoints.check_allowed(endpoints.Service.SCIM_APP, refused)
    settings.SANDBOX_URL = "https://127.0.0.1:9443"
    sandbox = endpoints.check_allowed(
        endpoints.Service.SCIM_APP, "https://127.0.0.1:9443/scim/x/v2"
    )
    assert sandbox.path == "/scim/x/v2"

    app = connect(alpha.tenant, _FakeApp(), "Slack")
    assert app.get_secret() == _FakeApp.token
    app.scim_base_url = "https://scim.elsewhere.example/v2"
    with pytest.raises(SecretBindingError):
        app.get_secret()


def test_the_inventory_reads_a_scim_apps_users(alpha, on_sandbox):
    from provisioning.inventory.models import Account
    from provisioning.inventory.service import refresh

    app = make_app(on_sandbox, "zoom")
    for i in range(3):
        app.add_user(f"seen{i}@alpha.test", "Seen", f"N{i}")
    connection = connect(alpha.tenant, app, "Zoom")
    cursor = refresh(connection)
    assert cursor.state == "idle", cursor.last_error
    names = set(Account.objects.filter(connection=connection).values_list("username", flat=True))
    assert names == {"seen0@alpha.test", "seen1@alpha.test", "seen2@alpha.test"}


def test_an_oauth_scim_app_is_added_with_its_secret_sealed_and_passes_its_test(
    client, msp_admin, alpha, on_sandbox
):
    app = make_app(on_sandbox, "full")
    signed_in(client, msp_admin)
    oauth = form(
        "Sandbox OAuth",
        app.base_url,
        scim_auth="oauth",
        scim_token_url=app.token_url,
        client_id=app.client_id,
        secret=app.client_secret,
        scim_profile="generic",
    )
    assert client.post(create_url(alpha.tenant), oauth).status_code == 302
    saved = scim_apps(alpha.tenant).get()
    assert (saved.scim_auth, saved.scim_token_url) == ("oauth", app.token_url)
    assert saved.client_id == app.client_id and saved.get_secret() == app.client_secret
    assert app.client_secret not in saved.secret_ciphertext
    edit = client.get(edit_url(saved)).content.decode()
    assert app.client_secret not in edit and app.token_url in edit
    page = press_test(client, saved)
    assert "Connection works" in page and app.client_secret not in page
    saved.refresh_from_db()
    assert saved.scim_discovered["groups"] is True

    moved = client.post(
        edit_url(saved), {**oauth, "scim_token_url": app.base_url + "/token", "secret": ""}
    )
    assert "enter the Token or client secret again" in moved.content.decode()


def test_test_connection_says_when_the_client_secret_is_refused(
    client, msp_admin, alpha, on_sandbox
):
    app = make_app(on_sandbox, "full")
    signed_in(client, msp_admin)
    connection = connect(alpha.tenant, app, "Wrong secret", oauth=True)
    connection.set_secret("not-the-client-secret")
    connection.save()
    page = press_test(client, connection)
    assert "Connection has a problem" in page
    assert "The OAuth client ID or secret is wrong" in page and "invalid_client" in page
    assert "not-the-client-secret" not in page
