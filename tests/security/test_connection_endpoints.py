"""Issue 12, items 1 and 8: a connection's secret goes only to the ids and endpoints it was
entered for, and only to documented hosts of its directory or exactly the sandbox's origin;
no credential follows a redirect to another host."""

from __future__ import annotations

import importlib
import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import aiohappyeyeballs
import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.connectors import bridge
from provisioning.connectors.errors import EndpointRefusedError, TransientError
from provisioning.connectors.factory import connector_for
from sandbox.tls import tls_files
from tenants import crypto
from tenants.models import DirectoryConnection, Tenant
from tests.factories import signed_in
from tests.provisioning.directories import make_entra, make_okta
from tests.provisioning.test_connection_check import press_test
from tests.rebinding import PUBLIC, rebinding_resolver, resolving

pytestmark = pytest.mark.django_db

SECRET = "contoso-demo-secret-3f9a"  # noqa: S105 - test data
TOKEN_PATH = "/oauth2/v2.0/token"  # noqa: S105 - a path


# -- listeners: one that records whatever reaches it, one that redirects there ------------


@dataclass
class Listener:
    server: ThreadingHTTPServer
    received: list[str] = field(default_factory=list)  # every request, headers and body
    connections: int = 0  # TCP connections accepted, TLS or not

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def saw(self, text: str) -> bool:
        return any(text in request for request in self.received)


def _handler(listener_ref: list[Listener], answer):
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(
                errors="replace"
            )
            listener_ref[0].received.append(f"{self.command} {self.path}\n{self.headers}{body}")
            status, headers, payload = answer(self.command, self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        def log_message(self, *args) -> None:
            pass

    return Handler


class _CountingServer(ThreadingHTTPServer):
    listener: Listener

    def get_request(self):
        self.listener.connections += 1
        return super().get_request()


@contextmanager
def listening(tls_dir: Path, answer=None) -> Iterator[Listener]:
    """An HTTPS server on 127.0.0.1 with the sandbox's kind of certificate; `answer(method,
    path)` gives (status, headers, body), by default 200 and an empty JSON object."""
    files = tls_files(tls_dir)
    ref: list[Listener] = []
    server = _CountingServer(
        ("127.0.0.1", 0), _handler(ref, answer or (lambda m, p: (200, {}, b"{}")))
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    listener = Listener(server)
    server.listener = listener
    ref.append(listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield listener
    finally:
        server.shutdown()
        server.server_close()


def redirecting_to(target: Listener, status: int, token_too: bool):
    """Answer every request with `status` to the same path on `target`; the token request
    too when `token_too`, else with a token so the Graph call is made."""

    def answer(method: str, path: str):
        if path.endswith(TOKEN_PATH) and not token_too:
            token = {"token_type": "Bearer", "expires_in": 3600, "access_token": "tok-1"}
            return 200, {"Content-Type": "application/json"}, json.dumps(token).encode()
        return status, {"Location": f"{target.url}{path}"}, b""

    return answer


@pytest.fixture
def tls_dir(tmp_path) -> Path:
    return tmp_path / "tls"


@pytest.fixture
def listener(tls_dir) -> Iterator[Listener]:
    with listening(tls_dir) as server:
        yield server


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def tenant(db) -> Tenant:
    return Tenant.objects.create(name="Contoso", slug="contoso", primary_domain="contoso.example")


def entra_row(tenant: Tenant, url: str, secret: str = SECRET, **ids) -> DirectoryConnection:
    connection = DirectoryConnection(
        tenant=tenant,
        kind="entra",
        directory_id=ids.get("directory_id", str(uuid.uuid4())),
        client_id=ids.get("client_id", str(uuid.uuid4())),
        login_base_url=url,
        graph_base_url=url,
    )
    connection.set_secret(secret)
    connection.save()
    return connection


def okta_row(tenant: Tenant, org_url: str, token: str = SECRET) -> DirectoryConnection:
    connection = DirectoryConnection(tenant=tenant, kind="okta", org_url=org_url)
    connection.set_secret(token)
    connection.save()
    return connection


def edit_url(connection) -> str:
    return reverse(
        "connection_edit",
        kwargs={"tenant": connection.tenant.slug, "connection_id": connection.pk},
    )


def entra_form(connection, **change) -> dict:
    return {
        "directory_id": connection.directory_id,
        "client_id": connection.client_id,
        "secret": "",
        "secret_expires_on": "",
        "login_base_url": connection.login_base_url,
        "graph_base_url": connection.graph_base_url,
        **change,
    }


def stored(connection) -> tuple:
    return DirectoryConnection.objects.filter(pk=connection.pk).values_list(
        "directory_id", "client_id", "login_base_url", "graph_base_url", "org_url",
        "secret_ciphertext",
    ).get()  # fmt: skip


# -- the attack from the issue --------------------------------------------------------------


def test_userinfo_endpoint_with_blank_secret_is_refused_and_nothing_reaches_the_listener(
    client, tenant, msp_admin, on_sandbox, listener
):
    tenant_id, client_id = make_entra(on_sandbox, f"c{uuid.uuid4().hex[:8]}.example")
    connection = entra_row(
        tenant, on_sandbox.url, "entra-test-secret", directory_id=tenant_id, client_id=client_id
    )
    before, events = stored(connection), AuditEvent.objects.count()
    sandbox_netloc = on_sandbox.url.removeprefix("https://")
    hostile = f"https://{sandbox_netloc}@{listener.netloc}"
    signed_in(client, msp_admin)

    for secret in ("", "entra-test-secret"):
        form = entra_form(connection, login_base_url=hostile, graph_base_url=hostile)
        response = client.post(edit_url(connection), {**form, "secret": secret})
        body = response.content.decode()
        assert response.status_code == 200
        assert "may not carry a user name or password" in body
    assert stored(connection) == before and AuditEvent.objects.count() == events

    technician = make_technician(tenant)
    client.force_login(technician)
    assert "Connection works" in press_test(client, connection)
    assert listener.connections == 0 and not listener.received


def make_technician(tenant):
    from portal.models import Role
    from tests.factories import make_person

    return make_person(f"tech-{uuid.uuid4().hex[:6]}", Role.TECHNICIAN, [tenant])


# -- which hosts a connection may use --------------------------------------------------------

ALLOWED_ENTRA = [
    ("login_base_url", "https://login.microsoftonline.com", "https://login.microsoftonline.com"),
    ("login_base_url", "https://login.microsoftonline.us/", "https://login.microsoftonline.us"),
    ("login_base_url", "https://LOGIN.chinacloudapi.cn:443", "https://login.chinacloudapi.cn"),
    (
        "login_base_url",
        "https://login.partner.microsoftonline.cn",
        "https://login.partner.microsoftonline.cn",
    ),
    ("graph_base_url", "https://graph.microsoft.com", "https://graph.microsoft.com"),
    ("graph_base_url", "https://graph.microsoft.us", "https://graph.microsoft.us"),
    ("graph_base_url", "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us"),
    (
        "graph_base_url",
        "https://microsoftgraph.chinacloudapi.cn",
        "https://microsoftgraph.chinacloudapi.cn",
    ),
    ("graph_base_url", "https://graph.microsoft.com.", "https://graph.microsoft.com"),
    ("graph_base_url", "https://127.0.0.1:8765", "https://127.0.0.1:8765"),  # the sandbox
]
REFUSED_ENTRA = [
    ("login_base_url", "https://127.0.0.1:8865@127.0.0.1:33583", "user name or password"),
    ("login_base_url", "https://login.microsoftonline.com@evil.example", "user name or password"),
    ("login_base_url", "https://login.microsoftonline.com.evil.example", "not a Microsoft Entra"),
    ("login_base_url", "https://graph.microsoft.com", "login.microsoftonline.us (US Government)"),
    ("login_base_url", "https://login.microsoftonline.de", "not a Microsoft Entra sign-in"),
    ("login_base_url", "https://login.microsoftonline.com:8443", "not a Microsoft Entra"),
    ("login_base_url", "https://login.microsoftonline.com/common", "without a path"),
    ("login_base_url", "https://login.microsoftonline.com/?x=1", "?query or #fragment"),
    ("graph_base_url", "http://graph.microsoft.com", "Use an https:// address"),
    ("graph_base_url", "https://graph.microsoft.com#frag", "?query or #fragment"),
    ("graph_base_url", "https://127.0.0.1:8766", "the sandbox at https://127.0.0.1:8765"),
    ("graph_base_url", "https://localhost:8765", "not a Microsoft Graph host"),
    ("graph_base_url", "https://169.254.169.254", "not a Microsoft Graph host"),
]
ALLOWED_OKTA = [
    ("https://fabrikam.okta.com/", "https://fabrikam.okta.com"),
    ("https://Fabrikam.OktaPreview.com", "https://fabrikam.oktapreview.com"),
    ("https://fabrikam.okta-emea.com", "https://fabrikam.okta-emea.com"),
    ("https://fabrikam.okta-gov.com", "https://fabrikam.okta-gov.com"),
    ("https://fabrikam.okta.mil", "https://fabrikam.okta.mil"),
    ("https://fabrikam.trexcloud.com", "https://fabrikam.trexcloud.com"),
    ("https://bücher.okta.com", "https://xn--bcher-kva.okta.com"),
    ("https://127.0.0.1:8765/okta/fabrikam", "https://127.0.0.1:8765/okta/fabrikam"),
]
REFUSED_OKTA = [
    ("https://okta.com", "not an Okta org host"),
    ("https://a.b.okta.com", "not an Okta org host"),
    ("https://fabrikamokta.com", "not an Okta org host"),
    ("https://fabrikam.okta.com.evil.example", "not an Okta org host"),
    ("https://fabrikam.okta.com:444", "not an Okta org host"),
    ("https://fabrikam-admin.okta.com", "not the admin console"),
    ("https://fabrikam.okta.com/api/v1", "without a path"),
    ("https://login.fabrikam.example", "must first be listed in OKTA_CUSTOM_DOMAINS"),
    ("https://127.0.0.1:8765/okta/../x", "path may hold only"),
    ("https://127.0.0.1:9/okta/fabrikam", "or the sandbox at https://127.0.0.1:8765"),
]


@pytest.fixture
def sandbox_on_8765(settings):
    settings.SANDBOX_URL = "https://127.0.0.1:8765"


def create_connection(client, tenant, kind: str, data: dict):
    url = reverse("connection_create", kwargs={"tenant": tenant.slug, "kind": kind})
    return client.post(url, data)


def new_entra_form(**change) -> dict:
    return {
        "directory_id": str(uuid.uuid4()),
        "client_id": str(uuid.uuid4()),
        "secret": SECRET,
        "secret_expires_on": "",
        "login_base_url": "",
        "graph_base_url": "",
        **change,
    }


@pytest.mark.parametrize("field_name,given,kept", ALLOWED_ENTRA)
def test_documented_entra_hosts_are_saved_normalised(
    client, tenant, msp_admin, sandbox_on_8765, field_name, given, kept
):
    signed_in(client, msp_admin)
    response = create_connection(client, tenant, "entra", new_entra_form(**{field_name: given}))
    assert response.status_code == 302
    assert getattr(tenant.connections.get(kind="entra"), field_name) == kept


@pytest.mark.parametrize("field_name,given,words", REFUSED_ENTRA)
def test_other_entra_endpoints_are_refused_with_what_is_allowed(
    client, tenant, msp_admin, sandbox_on_8765, field_name, given, words
):
    signed_in(client, msp_admin)
    response = create_connection(client, tenant, "entra", new_entra_form(**{field_name: given}))
    body = response.content.decode()
    assert response.status_code == 200 and words in body
    assert not tenant.connections.exists()


@pytest.mark.parametrize("given,kept", ALLOWED_OKTA)
def test_okta_org_hosts_are_saved_normalised(
    client, tenant, msp_admin, sandbox_on_8765, given, kept
):
    signed_in(client, msp_admin)
    response = create_connection(client, tenant, "okta", {"org_url": given, "secret": SECRET})
    assert response.status_code == 302
    assert tenant.connections.get(kind="okta").org_url == kept


@pytest.mark.parametrize("given,words", REFUSED_OKTA)
def test_other_okta_endpoints_are_refused_with_what_is_allowed(
    client, tenant, msp_admin, sandbox_on_8765, given, words
):
    signed_in(client, msp_admin)
    response = create_connection(client, tenant, "okta", {"org_url": given, "secret": SECRET})
    assert response.status_code == 200 and words in response.content.decode()
    assert not tenant.connections.exists()


def test_custom_okta_domain_only_when_listed(client, tenant, msp_admin, settings):
    signed_in(client, msp_admin)
    listed = {"org_url": "https://login.fabrikam.example", "secret": SECRET}
    assert create_connection(client, tenant, "okta", listed).status_code == 200
    settings.OKTA_CUSTOM_DOMAINS = ["Login.Fabrikam.example"]
    other = {"org_url": "https://id.fabrikam.example", "secret": SECRET}
    refused = create_connection(client, tenant, "okta", other)
    assert refused.status_code == 200
    assert "OKTA_CUSTOM_DOMAINS (login.fabrikam.example)" in refused.content.decode()
    assert create_connection(client, tenant, "okta", listed).status_code == 302
    assert tenant.connections.get().org_url == "https://login.fabrikam.example"


CUSTOM_INSIDE = [
    ("10.0.0.5", "a private or loopback address"),
    ("169.254.169.254", "a private or loopback address"),  # link-local: cloud metadata
    ("127.0.0.1", "a private or loopback address"),  # port 443: not the sandbox
    ("localhost", "this machine"),
    ("okta.localhost", "this machine"),
]


@pytest.mark.parametrize("domain,words", CUSTOM_INSIDE)
def test_a_custom_okta_domain_inside_the_network_is_refused_though_listed(
    client, tenant, msp_admin, sandbox_on_8765, settings, domain, words
):
    settings.OKTA_CUSTOM_DOMAINS = [domain]
    signed_in(client, msp_admin)
    org = {"org_url": f"https://{domain}", "secret": SECRET}
    response = create_connection(client, tenant, "okta", org)
    body = response.content.decode()
    assert response.status_code == 200
    assert f"A custom Okta domain (OKTA_CUSTOM_DOMAINS) may not be {words}." in body
    assert not tenant.connections.exists()


def test_a_custom_okta_domain_that_resolves_inside_gets_no_token(
    client, tenant, settings, monkeypatch
):
    """Listed, and a name, so the form takes it; the name resolves to loopback when the
    token is about to go: nothing is sent."""
    settings.OKTA_CUSTOM_DOMAINS = ["okta.fabrikam.example"]
    resolving(monkeypatch, "okta.fabrikam.example", ["127.0.0.1"])
    connection = okta_row(tenant, "https://okta.fabrikam.example")
    client.force_login(make_technician(tenant))
    page = press_test(client, connection)
    assert "Nothing was sent" in page and "resolves to 127.0.0.1" in page
    with pytest.raises(EndpointRefusedError, match="okta.fabrikam.example resolves to 127.0"):
        bridge.run(connector_for(connection).probe(), timeout=30)


def test_a_custom_okta_domain_is_connected_at_the_address_that_was_checked(
    tenant, settings, monkeypatch
):
    """DNS rebinding: the name answers a public address to its one look-up (the check) and
    loopback to any later one; the connection goes to the checked address (refused here,
    so nothing leaves the machine)."""
    settings.OKTA_CUSTOM_DOMAINS = ["okta.rebind.example"]
    looked_up = rebinding_resolver(monkeypatch, "okta.rebind.example")
    connected: list[str] = []

    async def start_connection(addr_infos, **kwargs):
        connected.extend(info[4][0] for info in addr_infos)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", start_connection)
    connection = okta_row(tenant, "https://okta.rebind.example")
    with pytest.raises(TransientError):
        bridge.run(connector_for(connection).probe(), timeout=30)
    assert looked_up == ["okta.rebind.example"] and connected == [PUBLIC]


def test_a_custom_okta_domain_falls_through_to_its_next_address(
    client, tenant, on_sandbox, settings, monkeypatch
):
    """The sandbox reached by a listed name (its origin is not checked, as ever): of the two
    addresses the name answers, nothing listens at the first; the second takes the token."""
    by_name = on_sandbox.url.replace("127.0.0.1", "localhost")
    settings.SANDBOX_URL = by_name
    settings.OKTA_CUSTOM_DOMAINS = ["localhost"]
    org_id = make_okta(on_sandbox)
    connection = okta_row(tenant, f"{by_name}/okta/{org_id}", f"{org_id}-token")
    resolving(monkeypatch, "localhost", ["127.0.0.2", "127.0.0.1"])  # 127.0.0.2: closed
    client.force_login(make_technician(tenant))
    assert "Connection works" in press_test(client, connection)


def test_without_sandbox_url_the_sandbox_origin_is_refused(client, tenant, msp_admin, settings):
    settings.SANDBOX_URL = ""
    signed_in(client, msp_admin)
    response = create_connection(
        client, tenant, "okta", {"org_url": "https://127.0.0.1:8765/okta/x", "secret": SECRET}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "not an Okta org host" in body
    assert "sandbox" not in body


# -- a secret is bound to what it was entered for --------------------------------------------


@pytest.mark.parametrize(
    "change,named",
    [
        ({"directory_id": str(uuid.uuid4())}, "Directory (tenant) ID"),
        ({"client_id": str(uuid.uuid4())}, "Application (client) ID"),
        ({"login_base_url": "https://login.microsoftonline.us"}, "Sign-in URL"),
        ({"graph_base_url": "https://graph.microsoft.us"}, "Graph URL"),
    ],
)
def test_changed_entra_ids_or_endpoints_need_the_secret_again(
    client, tenant, msp_admin, change, named
):
    connection = entra_row(tenant, "")
    before, events = stored(connection), AuditEvent.objects.count()
    signed_in(client, msp_admin)
    response = client.post(edit_url(connection), entra_form(connection, **change))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"{named} changed: enter the Client secret again" in body
    assert "only ever sent to the IDs and endpoints it was entered for" in body
    assert stored(connection) == before and AuditEvent.objects.count() == events

    again = client.post(edit_url(connection), entra_form(connection, secret="new-one", **change))
    assert again.status_code == 302
    connection.refresh_from_db()
    assert connection.get_secret() == "new-one"


def test_changed_okta_org_needs_the_token_again(client, tenant, msp_admin):
    connection = okta_row(tenant, "https://fabrikam.okta.com")
    before = stored(connection)
    signed_in(client, msp_admin)
    data = {"org_url": "https://contoso.okta.com", "secret": ""}
    response = client.post(edit_url(connection), data)
    assert response.status_code == 200
    assert "Org URL changed: enter the API token again" in response.content.decode()
    assert stored(connection) == before


def test_the_same_endpoint_written_differently_keeps_the_secret(client, tenant, msp_admin):
    connection = okta_row(tenant, "https://fabrikam.okta.com")
    signed_in(client, msp_admin)
    data = {"org_url": "https://FABRIKAM.okta.com:443/", "secret": ""}
    assert client.post(edit_url(connection), data).status_code == 302
    connection.refresh_from_db()
    assert connection.get_secret() == SECRET


# -- the connectors check again: rows changed behind the form's back ------------------------


def test_an_endpoint_edited_in_the_database_makes_the_secret_unusable(
    client, tenant, on_sandbox, listener, tls_dir, settings
):
    tenant_id, client_id = make_entra(on_sandbox, f"c{uuid.uuid4().hex[:8]}.example")
    connection = entra_row(
        tenant, on_sandbox.url, "entra-test-secret", directory_id=tenant_id, client_id=client_id
    )
    client.force_login(make_technician(tenant))
    assert "Connection works" in press_test(client, connection)

    # Moved to an origin the allow-list accepts (here: made the sandbox's), but the secret
    # was not entered for it: only the binding stops it.
    settings.SANDBOX_URL, settings.SANDBOX_CA_FILE = listener.url, tls_files(tls_dir).ca
    DirectoryConnection.objects.filter(pk=connection.pk).update(
        login_base_url=listener.url, graph_base_url=listener.url
    )
    connection.refresh_from_db()
    page = press_test(client, connection)
    assert "✗ Use the stored secret for these endpoints" in page
    assert "entered for other IDs or endpoints" in page
    assert listener.connections == 0
    with pytest.raises(crypto.SecretBindingError):
        connector_for(connection)


def test_a_row_saved_with_a_foreign_endpoint_is_refused_before_anything_is_sent(
    client, tenant, on_sandbox, listener
):
    # Bound to the foreign endpoint (as a script or an old row could be): the allow-list still
    # stops it in the connector.
    entra = entra_row(tenant, listener.url)
    okta = okta_row(tenant, f"https://127.0.0.1:8865@{listener.netloc}/okta/x")
    client.force_login(make_technician(tenant))
    for connection in (entra, okta):
        page = press_test(client, connection)
        assert "✗ Use an allowed endpoint" in page and "Nothing was sent" in page
        with pytest.raises(EndpointRefusedError):
            bridge.run(connector_for(connection).probe(), timeout=30)
    assert listener.connections == 0 and not listener.received


def test_a_secret_stored_before_binding_is_not_used(client, tenant, on_sandbox):
    org_id = make_okta(on_sandbox)
    connection = okta_row(tenant, f"{on_sandbox.url}/okta/{org_id}", f"{org_id}-token")
    DirectoryConnection.objects.filter(pk=connection.pk).update(
        secret_ciphertext=crypto.encrypt(f"{org_id}-token")  # as stored before issue 12
    )
    connection.refresh_from_db()
    client.force_login(make_technician(tenant))
    page = press_test(client, connection)
    assert "✗ Use the stored secret for these endpoints" in page


def test_the_migration_binds_existing_secrets_to_their_endpoints(client, tenant, on_sandbox):
    org_id = make_okta(on_sandbox)
    connection = okta_row(tenant, f"{on_sandbox.url}/okta/{org_id}")
    legacy = crypto.encrypt(f"{org_id}-token")
    DirectoryConnection.objects.filter(pk=connection.pk).update(secret_ciphertext=legacy)
    unreadable = entra_row(tenant, "")
    DirectoryConnection.objects.filter(pk=unreadable.pk).update(secret_ciphertext="not-fernet")

    migration = importlib.import_module("tenants.migrations.0006_connection_secret_binding")
    migration.bind_secrets(apps, None)
    migration.bind_secrets(apps, None)  # a second run changes nothing

    connection.refresh_from_db()
    assert connection.get_secret() == f"{org_id}-token"
    assert stored(unreadable)[-1] == "not-fernet"
    client.force_login(make_technician(tenant))
    assert "Connection works" in press_test(client, connection)


# -- no credential follows a redirect to another host ----------------------------------------


@pytest.fixture
def redirect_pair(tls_dir, settings):
    """`(source, target)`: source is the sandbox's origin and redirects to target (another
    port), which records whatever reaches it."""

    @contextmanager
    def pair(status: int, token_too: bool):
        with (
            listening(tls_dir) as target,
            listening(tls_dir, redirecting_to(target, status, token_too)) as source,
        ):
            settings.SANDBOX_URL = source.url
            settings.SANDBOX_CA_FILE = tls_files(tls_dir).ca
            yield source, target

    return pair


@pytest.mark.parametrize("status", [302, 307, 308])
@pytest.mark.parametrize("token_too", [True, False], ids=["token-post", "graph-call"])
def test_entra_credentials_do_not_follow_a_redirect(
    client, tenant, redirect_pair, status, token_too
):
    with redirect_pair(status, token_too) as (source, target):
        connection = entra_row(tenant, source.url)
        client.force_login(make_technician(tenant))
        page = press_test(client, connection)
    assert "Connection has a problem" in page
    assert source.received, "the directory was asked"
    assert target.connections == 0 and not target.saw(SECRET) and not target.saw("tok-1")


@pytest.mark.parametrize("status", [302, 307, 308])
def test_okta_token_does_not_follow_a_redirect(client, tenant, redirect_pair, status):
    with redirect_pair(status, token_too=True) as (source, target):
        connection = okta_row(tenant, f"{source.url}/okta/org1")
        client.force_login(make_technician(tenant))
        page = press_test(client, connection)
    assert "Connection has a problem" in page and "Nothing was sent" in page
    assert source.saw(SECRET), "the org itself was asked"
    assert target.connections == 0 and not target.saw(SECRET)


# -- the demo keeps working --------------------------------------------------------------------


def test_demo_connections_still_test_ok_against_the_sandbox(client, msp_admin, on_sandbox):
    call_command("seed_demo")
    signed_in(client, msp_admin)
    connections = list(DirectoryConnection.objects.all())
    assert {c.kind for c in connections} == {"entra", "okta", "scim"}  # Slack and Zoom too
    for connection in connections:
        assert "Connection works" in press_test(client, connection), connection


@pytest.mark.parametrize(
    ("graph_url", "scope"),
    [
        ("https://graph.microsoft.com", "https://graph.microsoft.com/.default"),
        ("https://graph.microsoft.us", "https://graph.microsoft.us/.default"),
        ("https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us/.default"),
        (
            "https://microsoftgraph.chinacloudapi.cn",
            "https://microsoftgraph.chinacloudapi.cn/.default",
        ),
    ],
)
def test_a_national_clouds_token_is_asked_for_its_own_graph(graph_url, scope):
    from provisioning.connectors.entra import _graph_scope
    from tenants.endpoints import parse

    assert _graph_scope(parse(graph_url), sandbox=False) == scope
