"""Directory secrets: encrypted at rest, write-only, never in a page, log, audit event or admin."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.urls import reverse

from portal.audit.models import AuditEvent
from tenants import crypto
from tenants.models import DirectoryConnection
from tests.factories import signed_in

NEW_SECRET = "brand-NEW-secret-value-55aa"


@pytest.fixture
def two_keys(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.CREDENTIAL_KEYS = [old]
    return old, new


def all_pages_of(world, msp_template) -> list[str]:
    t, c = world.tenant.slug, world.connection.pk
    return [
        reverse("dashboard"),
        reverse("tenant_list"),
        reverse("tenant_detail", kwargs={"tenant": t}),
        reverse("connection_edit", kwargs={"tenant": t, "connection_id": c}),
        reverse("connection_edit", kwargs={"tenant": t, "connection_id": world.okta_connection.pk}),
        reverse("admin:tenants_directoryconnection_changelist"),
        reverse("admin:tenants_directoryconnection_change", args=[c]),
        reverse("admin:audit_auditevent_changelist"),
    ]


def test_secret_is_stored_encrypted(alpha):
    stored = DirectoryConnection.objects.values_list("secret_ciphertext", flat=True).get(
        pk=alpha.connection.pk
    )
    assert alpha.secret not in stored
    assert alpha.connection.get_secret() == alpha.secret


def test_secret_never_rendered_logged_or_audited(client, alpha, msp_admin, msp_template, caplog):
    caplog.set_level(logging.DEBUG)
    signed_in(client, msp_admin)
    url = reverse(
        "connection_edit",
        kwargs={"tenant": alpha.tenant.slug, "connection_id": alpha.connection.pk},
    )
    form = {
        "directory_id": alpha.connection.directory_id,
        "client_id": alpha.connection.client_id,
        "secret": NEW_SECRET,
        "secret_expires_on": "2027-05-01",
        "login_base_url": "",
        "graph_base_url": "",
    }
    assert client.post(url, form).status_code == 302
    # A failing form re-renders: the typed secret must not come back in the page either.
    bad = client.post(url, {**form, "client_id": "not-a-guid"})
    assert bad.status_code == 200 and NEW_SECRET not in bad.content.decode()

    for page in all_pages_of(alpha, msp_template):
        body = client.get(page).content.decode()
        assert NEW_SECRET not in body and alpha.secret not in body, page
    assert "expires 1 May 2027" in client.get(url).content.decode()

    for event in AuditEvent.objects.all():
        dumped = str(event.before) + str(event.after) + event.target_display
        assert NEW_SECRET not in dumped and alpha.secret not in dumped
    assert NEW_SECRET not in caplog.text and alpha.secret not in caplog.text
    alpha.connection.refresh_from_db()
    assert alpha.connection.get_secret() == NEW_SECRET


def test_blank_secret_keeps_the_stored_one_while_ids_and_endpoints_stay(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    url = reverse(
        "connection_edit",
        kwargs={"tenant": alpha.tenant.slug, "connection_id": alpha.connection.pk},
    )
    form = {
        "directory_id": alpha.connection.directory_id,
        "client_id": alpha.connection.client_id,
        "secret": "",
        "secret_expires_on": "2027-06-01",
        "login_base_url": "",
        "graph_base_url": "",
    }
    assert client.post(url, form).status_code == 302
    alpha.connection.refresh_from_db()
    assert str(alpha.connection.secret_expires_on) == "2027-06-01"
    assert alpha.connection.get_secret() == alpha.secret

    moved = client.post(url, {**form, "login_base_url": "https://login.microsoftonline.us"})
    assert moved.status_code == 200
    assert "Sign-in URL changed: enter the Client secret again" in moved.content.decode()
    alpha.connection.refresh_from_db()
    assert alpha.connection.login_base_url == ""


def test_rotation_round_trip(alpha, two_keys, settings):
    old, new = two_keys
    alpha.okta_connection.set_secret("okta-rotate-me")
    alpha.okta_connection.save()
    connection = alpha.connection
    connection.set_secret("rotate-me")
    connection.save()
    old_ciphertext = connection.secret_ciphertext

    settings.CREDENTIAL_KEYS = [new, old]  # new key first: old rows still decrypt
    connection.refresh_from_db()
    assert connection.get_secret() == "rotate-me"
    call_command("rotate_credentials")
    connection.refresh_from_db()
    assert connection.secret_ciphertext != old_ciphertext

    settings.CREDENTIAL_KEYS = [new]  # the old key can now go
    assert connection.get_secret() == "rotate-me"
    assert AuditEvent.objects.filter(action="connection.rotate_key").count() == 2


def test_wrong_key_gives_a_clear_error_without_the_secret(alpha, settings):
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.CredentialError) as excinfo:
        alpha.connection.get_secret()
    assert "cannot be decrypted" in str(excinfo.value)
    assert alpha.secret not in str(excinfo.value)


def test_rotate_command_reports_undecryptable_rows_and_carries_on(alpha, settings, capsys):
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SystemExit) as excinfo:
        call_command("rotate_credentials")
    assert excinfo.value.code == 1
    out = capsys.readouterr()
    assert "cannot be decrypted" in out.err and alpha.tenant.name in out.err
    assert alpha.secret not in out.out + out.err


def test_pages_still_render_with_a_wrong_key(client, alpha, msp_admin, settings):
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    signed_in(client, msp_admin)
    assert (
        client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})).status_code
        == 200
    )


def test_malformed_key_setting_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.CREDENTIAL_KEYS = ["not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        crypto.encrypt("x")
