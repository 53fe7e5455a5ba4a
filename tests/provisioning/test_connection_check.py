"""“Test connection”: a real sign-in and reads through the SDK, reported in plain words."""

import uuid

import pytest
from django.urls import reverse

from tenants.models import DirectoryConnection, Tenant
from tests.provisioning.directories import make_entra, make_okta

pytestmark = pytest.mark.django_db


def unique_domain() -> str:
    return f"c{uuid.uuid4().hex[:8]}.example"  # the sandbox, like Entra, verifies a domain once


@pytest.fixture
def tenant(db):
    return Tenant.objects.create(name="Checkco", slug="checkco", primary_domain="checkco.example")


def entra_connection(tenant, server, tenant_id, client_id, secret, url=None):
    connection = DirectoryConnection(
        tenant=tenant,
        kind="entra",
        directory_id=tenant_id,
        client_id=client_id,
        login_base_url=url or server.url,
        graph_base_url=url or server.url,
    )
    connection.set_secret(secret)
    connection.save()
    return connection


def press_test(client, connection) -> str:
    url = reverse(
        "connection_test",
        kwargs={"tenant": connection.tenant.slug, "connection_id": connection.pk},
    )
    response = client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    return response.content.decode()


def test_working_entra_connection(client, msp_admin, tenant, on_sandbox):
    tenant_id, client_id = make_entra(on_sandbox, unique_domain())
    connection = entra_connection(tenant, on_sandbox, tenant_id, client_id, "entra-test-secret")
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection works" in page
    assert "✓ Read licences: 2 found" in page and "✓ Read groups: 6 found" in page
    assert "entra-test-secret" not in page


@pytest.mark.parametrize(
    "change,words",
    [
        ({"secret": "wrong"}, "The client secret is wrong or has expired"),
        ({"tenant_id": str(uuid.uuid4())}, "No directory has this tenant ID"),
        ({"url": "https://127.0.0.1:9"}, "✗ Use an allowed endpoint"),  # not the sandbox
    ],
)
def test_broken_entra_connections_say_what_is_wrong(
    client, msp_admin, tenant, on_sandbox, change, words
):
    tenant_id, client_id = make_entra(on_sandbox, unique_domain())
    connection = entra_connection(
        tenant,
        on_sandbox,
        change.get("tenant_id", tenant_id),
        client_id,
        change.get("secret", "entra-test-secret"),
        change.get("url"),
    )
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection has a problem" in page and words in page


def test_unreachable_directory_says_so(client, msp_admin, tenant, on_sandbox, settings):
    settings.SANDBOX_URL = "https://127.0.0.1:9"  # an allowed origin where nothing listens
    connection = entra_connection(
        tenant, None, str(uuid.uuid4()), str(uuid.uuid4()), "s", "https://127.0.0.1:9"
    )
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection has a problem" in page and "✗ Reach the directory" in page


def test_missing_permission_is_named(client, msp_admin, tenant, on_sandbox):
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    body = {
        "tenant_id": tenant_id,
        "domains": [unique_domain()],
        "apps": [
            {"client_id": client_id, "client_secret": "s", "permissions": ["Group.ReadWrite.All"]}
        ],
    }
    with on_sandbox.control() as control:
        assert control.post("/_sandbox/entra/tenants", json=body).status_code == 201
    connection = entra_connection(tenant, on_sandbox, tenant_id, client_id, "s")
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "✓ Sign in with the client secret" in page
    assert "✗ Read users: The app may not read users" in page


def test_okta_good_and_bad_token(client, msp_admin, tenant, on_sandbox):
    org_id = make_okta(on_sandbox)
    connection = DirectoryConnection(
        tenant=tenant, kind="okta", org_url=f"{on_sandbox.url}/okta/{org_id}"
    )
    connection.set_secret(f"{org_id}-token")
    connection.save()
    client.force_login(msp_admin)
    assert "Connection works" in press_test(client, connection)
    assert "✓ Read apps: 2 found" in press_test(client, connection)

    connection.set_secret("wrong-token")
    connection.save()
    page = press_test(client, connection)
    assert "The API token is wrong, expired or revoked" in page


def test_only_operators_may_test(client, alpha):
    url = reverse(
        "connection_test",
        kwargs={"tenant": alpha.tenant.slug, "connection_id": alpha.connection.pk},
    )
    for person in (alpha.account_manager, alpha.client_admin):
        client.force_login(person)
        assert client.post(url).status_code == 403


def entra_app_connection(tenant, server, *, permissions=None, directory_roles=None):
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    app = {"client_id": client_id, "client_secret": "s"}
    if permissions is not None:
        app["permissions"] = permissions
    if directory_roles is not None:
        app["directory_roles"] = directory_roles
    body = {"tenant_id": tenant_id, "domains": [unique_domain()], "apps": [app]}
    with server.control() as control:
        assert control.post("/_sandbox/entra/tenants", json=body).status_code == 201
    return entra_connection(tenant, server, tenant_id, client_id, "s")


def test_an_app_without_a_directory_role_cannot_reset_passwords_and_is_told_so(
    client, msp_admin, tenant, on_sandbox
):
    connection = entra_app_connection(tenant, on_sandbox, directory_roles=[])
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection has a problem" in page
    assert "✓ Read users" in page and "✓ Read groups" in page  # reading alone looks fine
    assert (
        "✗ Reset passwords: Can read, cannot reset passwords: give the app the User "
        "Administrator role" in page
    )


def test_the_app_permissions_jobs_need_are_named(client, msp_admin, tenant, on_sandbox):
    readable = ["User.ReadWrite.All", "Group.ReadWrite.All", "Application.Read.All"]
    connection = entra_app_connection(tenant, on_sandbox, permissions=readable)
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection has a problem" in page
    assert "✓ Create and update users, block sign-in" in page
    assert (
        "✗ Assign apps: Cannot assign apps: grant the app AppRoleAssignment.ReadWrite.All." in page
    )
    assert "✗ Remove a leaver&#x27;s admin roles: Cannot remove a leaver&#x27;s admin roles" in page
    assert "grant the app RoleManagement.ReadWrite.Directory" in page
    assert "grant the app AdministrativeUnit.ReadWrite.All" in page
    assert "✗ Hand over a leaver&#x27;s mail: " in page
    assert "grant the app MailboxSettings.ReadWrite" in page
    assert "✗ Share a leaver&#x27;s OneDrive: " in page
    assert "grant the app Files.ReadWrite.All" in page
    assert "✗ Read the tenant&#x27;s domains: Cannot check at dry run that a joiner" in page
    assert "grant the app Domain.Read.All" in page
    assert "grant the app UserAuthenticationMethod.ReadWrite.All" in page
    # Without a permission to read role assignments it cannot tell: it says so.
    assert "✗ Reset passwords: Cannot tell which directory roles the app holds" in page


def test_a_user_administrator_app_resets_users_not_administrators(
    client, msp_admin, tenant, on_sandbox
):
    connection = entra_app_connection(tenant, on_sandbox)  # default: User Administrator
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection works" in page
    assert "✓ Reset passwords: users&#x27; passwords; an administrator&#x27;s needs the " in page
    # Graph refuses that app the other sensitive actions on an admin too (block, delete).
    assert "as do blocking an administrator&#x27;s sign-in and deleting them" in page
    assert "a member of a role-assignable group counts as an administrator" in page


def okta_connection_as(tenant, server, roles: list[str]):
    """An Okta connection whose API token's admin holds `roles`."""
    org_id = f"t-{uuid.uuid4().hex[:10]}"
    body = {
        "id": org_id,
        "name": f"Test org {org_id}",
        "api_token": f"{org_id}-token",
        "admin_tokens": [{"token": f"{org_id}-limited", "roles": roles}],
        "groups": [{"name": "Sales"}],
        "apps": [{"name": "slack", "label": "Slack"}],
    }
    with server.control() as control:
        assert control.post("/_sandbox/okta/orgs", json=body).status_code == 201
    connection = DirectoryConnection(
        tenant=tenant, kind="okta", org_url=f"{server.url}/okta/{org_id}"
    )
    connection.set_secret(f"{org_id}-limited")
    connection.save()
    return connection


def test_an_okta_read_only_token_reads_and_is_told_no_job_can_write(
    client, msp_admin, tenant, on_sandbox
):
    connection = okta_connection_as(tenant, on_sandbox, ["READ_ONLY_ADMIN"])
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection has a problem" in page
    assert "✓ Read users" in page and "✓ Read groups: 2 found" in page  # reads look fine
    assert (
        "✗ Write with the token&#x27;s admin roles: Can read, cannot create users, change "
        "groups, assign apps or reset passwords: the token&#x27;s admin is a Read-only "
        "Administrator; use a token of a Super or Org Administrator." in page
    )
    assert "✗ Assign apps: Cannot assign apps: use a token of a Super or Org Administrator." in page


def test_an_okta_group_membership_admin_token_names_the_jobs_that_fail(
    client, msp_admin, tenant, on_sandbox
):
    connection = okta_connection_as(tenant, on_sandbox, ["GROUP_MEMBERSHIP_ADMIN"])
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection has a problem" in page
    assert "✓ Change group members" in page
    assert (
        "Can read and some jobs work, cannot create users, assign apps or reset passwords" in page
    )
    assert "✗ Create and update users, suspend and deactivate them: Cannot create users" in page


@pytest.mark.parametrize("roles", [["SUPER_ADMIN"], ["ORG_ADMIN"], ["USER_ADMIN", "APP_ADMIN"]])
def test_okta_admin_roles_that_allow_every_job_pass(client, msp_admin, tenant, on_sandbox, roles):
    connection = okta_connection_as(tenant, on_sandbox, roles)
    client.force_login(msp_admin)
    page = press_test(client, connection)
    assert "Connection works" in page
    assert "✓ Write with the token&#x27;s admin roles: the token&#x27;s admin is a" in page
    assert "✓ Reset passwords" in page and "✓ Assign apps" in page
