"""Issue 12, item 5 and the low items on headers and the demo's ports.

With DEBUG off (as `make demo` runs), 400/403/404/500 pages come in the portal's layout and say
what happened and what to do, never a traceback, the URL patterns or the settings; every
response carries a Content-Security-Policy htmx works under, a Referrer-Policy and a
Permissions-Policy; the demo's processes run with DEBUG off on the ports PORT and SANDBOX_URL
name.
"""

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import path, reverse

from portal import urls as portal_urls
from portal.errors import CSRF_REASON
from portal.management.commands import rundemo
from tenants.models import DirectoryConnection

LEAK_MARKERS = (
    "Traceback",
    "URLconf",
    "urlpatterns",
    "SECRET_KEY",
    "DATABASES",
    "Request Method",
    "technical",
    "settings.py",
    "boom-internal-detail",
    "No Tenant matches",
)


def _boom(request):
    raise RuntimeError("boom-internal-detail")


# This module is also the URLconf of the 500 tests: the portal's URLs plus one that raises.
urlpatterns = [path("boom/", _boom), *portal_urls.urlpatterns]
handler400 = portal_urls.handler400
handler403 = portal_urls.handler403
handler404 = portal_urls.handler404
handler500 = portal_urls.handler500


@pytest.fixture(autouse=True)
def debug_off(settings):
    settings.DEBUG = False


def _page(response) -> str:
    return response.content.decode()


def _assert_no_technical_details(body: str) -> None:
    for marker in LEAK_MARKERS:
        assert marker not in body, marker


def _assert_portal_layout(body: str, signed_in: bool) -> None:
    assert body.startswith("<!doctype html>")
    assert "/static/css/portal.css" in body
    assert 'class="card error-page"' in body
    assert ('class="sidebar"' in body) == signed_in


def test_404_is_in_the_portal_layout_and_says_what_to_do(client, alpha):
    client.force_login(alpha.technician)
    response = client.get("/tenants/no-such-tenant/")
    assert response.status_code == 404
    body = _page(response)
    _assert_portal_layout(body, signed_in=True)
    assert "Not found, or not in your tenants" in body
    assert 'href="/"' in body or reverse("dashboard") in body
    _assert_no_technical_details(body)


def test_404_of_another_tenants_object_reads_like_any_other(client, alpha, bravo):
    client.force_login(alpha.technician)
    response = client.get(reverse("tenant_detail", kwargs={"tenant": bravo.tenant.slug}))
    assert response.status_code == 404
    assert "Not found, or not in your tenants" in _page(response)
    assert bravo.tenant.name not in _page(response)


def test_404_for_someone_signed_out_offers_the_sign_in(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = _page(response)
    _assert_portal_layout(body, signed_in=False)
    assert reverse("login") in body
    _assert_no_technical_details(body)


def test_403_shows_the_views_reason_in_the_layout(client, alpha):
    client.force_login(alpha.account_manager)
    response = client.get(reverse("onboard_start"))
    assert response.status_code == 403
    body = _page(response)
    _assert_portal_layout(body, signed_in=True)
    assert "Your role may not do this." in body
    assert "ask an MSP admin" in body
    _assert_no_technical_details(body)


def test_403_tells_a_client_admin_how_to_ask_their_msp_instead(client, alpha):
    """A client admin who opens the onboarding or offboarding form is not told to ask for
    another role: the MSP does that work, and the Home page's buttons ask for it."""
    client.force_login(alpha.client_admin)
    response = client.get(reverse("onboard_start"))
    assert response.status_code == 403
    body = _page(response)
    assert "Ask to onboard someone" in body and "Ask to offboard someone" in body
    assert "ask an MSP admin to change your role" not in body
    home = reverse("client_home", kwargs={"tenant": alpha.tenant.slug})
    assert f'<a class="button" href="{home}">Back to your Home</a>' in body


def test_403_to_an_htmx_request_is_a_fragment_with_the_reason(client, alpha):
    client.force_login(alpha.account_manager)
    response = client.get(reverse("onboard_start"), headers={"HX-Request": "true"})
    assert response.status_code == 403
    body = _page(response)
    assert "<html" not in body and "sidebar" not in body
    assert 'id="error-message"' in body
    assert "Your role may not do this." in body


def test_405_of_a_buttons_address_opened_as_a_link_is_in_the_layout(client, alpha):
    """An action's address typed or opened in a tab (GET of a POST-only view: /logout/, a
    job's retry) gets the portal's page, not the browser's blank error; Allow is kept."""
    client.force_login(alpha.technician)
    response = client.get(reverse("job_retry", kwargs={"job_id": alpha.job.pk}))
    assert response.status_code == 405 and response["Allow"] == "POST"
    body = _page(response)
    _assert_portal_layout(body, signed_in=True)
    assert "Nothing was changed" in body
    _assert_no_technical_details(body)

    response = client.get(reverse("logout"))
    assert response.status_code == 405
    body = _page(response)
    assert f'action="{reverse("logout")}"' in body  # signing out is one button away
    assert alpha.job.status == type(alpha.job).objects.get(pk=alpha.job.pk).status


def test_405_to_an_htmx_request_is_a_fragment(client, alpha):
    client.force_login(alpha.technician)
    url = reverse("job_retry", kwargs={"job_id": alpha.job.pk})
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 405
    body = _page(response)
    assert "<html" not in body and 'id="error-message"' in body


def test_a_form_without_its_csrf_token_gets_the_403_page_with_what_to_do(db):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    body = _page(response)
    _assert_portal_layout(body, signed_in=False)
    assert CSRF_REASON in body
    assert "CSRF cookie" not in body  # Django's reason is for developers


@pytest.mark.urls(__name__)
def test_500_renders_in_the_layout_with_a_request_id_and_nothing_else(db):
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = _page(response)
    _assert_portal_layout(body, signed_in=False)
    assert "Something went wrong on our side" in body
    assert f"<code>{response['X-Request-ID']}</code>" in body
    _assert_no_technical_details(body)


@pytest.mark.urls(__name__)
def test_500_page_renders_with_the_database_down(alpha, django_db_blocker):
    client = Client(raise_request_exception=False)
    client.force_login(alpha.technician)
    with django_db_blocker.block():  # every query now raises, as with the database gone
        response = client.get("/boom/")
    assert response.status_code == 500
    body = _page(response)
    _assert_portal_layout(body, signed_in=False)
    assert "Something went wrong on our side" in body
    _assert_no_technical_details(body)


def test_400_is_in_the_layout(db):
    response = Client().get("/login/", headers={"Host": "attacker.example"})
    assert response.status_code == 400
    body = _page(response)
    _assert_portal_layout(body, signed_in=False)
    assert "could not read this request" in body
    assert "attacker.example" not in body and "ALLOWED_HOSTS" not in body


def _csp(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_pages_carry_a_strict_csp_and_the_other_security_headers(client, alpha):
    client.force_login(alpha.technician)
    for url in (reverse("login"), reverse("dashboard"), "/no/such/page/"):
        _assert_security_headers(client.get(url))


def test_the_400_for_a_host_not_served_carries_every_security_header(db):
    # Django refuses the Host in CommonMiddleware; an answer made there goes back only through
    # the middleware above it, where the clickjacking header was not (CSP's frame-ancestors
    # alone, which a browser without CSP ignores).
    response = Client().get("/login/", headers={"Host": "attacker.example"})
    assert response.status_code == 400
    _assert_security_headers(response)


def _assert_security_headers(response) -> None:
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions


def test_htmx_is_told_not_to_inject_its_indicator_styles(client, alpha):
    client.force_login(alpha.technician)
    body = _page(client.get(reverse("dashboard")))
    assert """<meta name="htmx-config" content='{"includeIndicatorStyles":false}'>""" in body
    assert re.search(r'<script src="/static/django_htmx/htmx-2\.min\.js" defer>', body)


# A JSON data block (type="application/json") is no script: nothing runs, the CSP lets it be.
INLINE = re.compile(
    r"""<script(?![^>]*\s(?:src=|type=["']application/json))[^>]*>|<style\b|\sstyle=["']|\son[a-z]+=["']""",
    re.I,
)


def test_no_template_has_inline_script_style_or_event_handler():
    # The CSP refuses them, so each would be a broken button or look in the browser.
    templates = Path(settings.BASE_DIR, "templates")
    offenders = [
        f"{template.relative_to(templates)}: {match.group(0)}"
        for template in templates.rglob("*.html")
        for match in INLINE.finditer(template.read_text())
    ]
    assert offenders == []


def test_static_files_are_served_with_debug_off(client, db):
    response = client.get("/static/js/portal.js")
    assert response.status_code == 200
    assert b"data-confirm" in b"".join(response.streaming_content)


def test_a_changed_stylesheet_reaches_the_browser_without_a_restart(db, tmp_path, settings):
    """Outside production WhiteNoise read the static folders once, as the server started:
    a stylesheet changed while the demo ran (a checkout updated under it) came back with
    its old length, cut short or padded, and browsers kept it a minute (max-age=60) beside
    new pages. It is re-read on each request and revalidated by the browser each time."""
    from django.test import Client

    settings.STATICFILES_DIRS = [tmp_path]
    sheet = tmp_path / "reload-probe.css"
    sheet.write_text(".a { color: red; }")
    client = Client()
    first = client.get("/static/reload-probe.css")
    assert b"".join(first.streaming_content) == b".a { color: red; }"
    assert first["Cache-Control"] == "max-age=0, public"
    sheet.write_text(".a { color: red; } .b { color: blue; }")
    second = client.get("/static/reload-probe.css")
    new = b".a { color: red; } .b { color: blue; }"
    assert b"".join(second.streaming_content) == new and second["Content-Length"] == str(len(new))


@pytest.mark.parametrize(
    "address", ["/static/js/portal.js", "/static/css/portal.css", "/static/favicon.svg"]
)
def test_static_files_do_not_invite_cross_origin_reads(client, db, address):
    """WhiteNoise sends `Access-Control-Allow-Origin: *` by default, letting any site's
    scripts read the portal's files; the portal's pages load them from their own origin
    (CSP `'self'`, no fonts or modules from elsewhere), which needs no CORS."""
    response = client.get(address, headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


# -- make demo -------------------------------------------------------------------------------


def test_the_sandbox_listens_on_the_port_of_sandbox_url():
    addresses = rundemo.demo_addresses("https://127.0.0.1:8865", "127.0.0.1", 8100)
    assert (addresses.sandbox_host, addresses.sandbox_port) == ("127.0.0.1", 8865)
    assert (addresses.web_host, addresses.web_port) == ("127.0.0.1", 8100)
    assert addresses.web_url == "http://127.0.0.1:8100/"
    default = rundemo.demo_addresses("https://127.0.0.1:8765/", "127.0.0.1", 8000)
    assert default.sandbox_port == 8765
    assert rundemo.demo_addresses("https://localhost", "::1", 8000).sandbox_port == 443
    assert rundemo.demo_addresses("https://localhost", "::1", 8000).web_bind == "[::1]:8000"


@pytest.mark.parametrize(
    "sandbox_url",
    [
        "http://127.0.0.1:8865",  # not https
        "https://sandbox.example:8865",  # a host the sandbox's certificate does not name
        "https://127.0.0.1:8865@127.0.0.1:33583",  # userinfo
        "https://127.0.0.1:8865/okta",  # a path
        "https://127.0.0.1:99999",  # no port
        "https://127.0.0.1:8100",  # the web server's port
    ],
)
def test_a_sandbox_url_the_demo_cannot_serve_is_refused(sandbox_url):
    with pytest.raises(CommandError):
        rundemo.demo_addresses(sandbox_url, "127.0.0.1", 8100)


def test_the_demo_refuses_a_port_another_demo_holds():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(CommandError, match=f"Port {port} for the web server is taken"):
            call_command("rundemo", port=port)


def test_the_web_port_comes_from_port(monkeypatch):
    monkeypatch.setenv("PORT", "8100")
    parser = rundemo.Command().create_parser("manage.py", "rundemo")
    assert parser.parse_args([]).port == 8100
    assert parser.parse_args(["--port", "8200"]).port == 8200
    for bad in ("0", "70000", "eighty"):
        with pytest.raises(CommandError):  # argparse's message (an exit on the command line)
            parser.parse_args(["--port", bad])


def test_the_demo_environment_turns_debug_off_and_names_its_hosts():
    addresses = rundemo.demo_addresses("https://127.0.0.1:8865", "127.0.0.1", 8100)
    env = rundemo.demo_environment({"DEBUG": "1", "PATH": "/bin"}, addresses)
    assert env["DEBUG"] == "0" and env["PORT"] == "8100" and env["PATH"] == "/bin"
    assert {"127.0.0.1", "localhost"} <= set(env["ALLOWED_HOSTS"].split(","))
    kept = rundemo.demo_environment({"ALLOWED_HOSTS": "portal.lan"}, addresses)
    assert kept["ALLOWED_HOSTS"] == "portal.lan"


def test_the_demos_processes_load_settings_with_debug_off():
    addresses = rundemo.demo_addresses("https://127.0.0.1:8865", "127.0.0.1", 8100)
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = rundemo.demo_environment({**base, "DEBUG": "true"}, addresses)
    code = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.PORTAL_URL, ','.join(s.ALLOWED_HOSTS), s.WHITENOISE_USE_FINDERS)"
    )
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    debug, portal_url, hosts, finders = result.stdout.split()
    assert debug == "False"
    assert portal_url == "http://127.0.0.1:8100"
    assert {"127.0.0.1", "localhost"} <= set(hosts.split(",")) and "*" not in hosts
    assert finders.strip() == "True"


def test_seeded_demo_connections_follow_sandbox_url(settings, db):
    settings.SANDBOX_URL = "https://127.0.0.1:8765"
    call_command("seed_demo", verbosity=0)
    settings.SANDBOX_URL = "https://127.0.0.1:8865"
    call_command("seed_demo", verbosity=0)
    connections = DirectoryConnection.objects.all()
    # Contoso's Entra and Slack, Fabrikam's Okta and Zoom, Northwind's Entra, Okta and Dropbox
    assert connections.count() == 7
    for connection in connections:
        endpoints = [
            connection.login_base_url,
            connection.graph_base_url,
            connection.org_url,
            connection.scim_base_url,
        ]
        used = [url for url in endpoints if url]
        assert used and all(url.startswith("https://127.0.0.1:8865") for url in used)
        assert connection.get_secret()  # entered again with the new endpoint


@pytest.mark.django_db
def test_the_django_admin_names_the_portals_icon(client, msp_admin):
    """Without it the browser asks for /favicon.ico, which the portal does not serve: a 404
    on every admin page (the portal's own pages name favicon.svg in base.html)."""
    client.force_login(msp_admin)
    body = client.get("/admin/").content.decode()
    assert 'rel="icon"' in body and "favicon.svg" in body
    assert "MSP portal administration" in body  # the site header, as before
