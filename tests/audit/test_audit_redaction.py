from __future__ import annotations

import json

import pytest

from portal.audit.events import REDACTED, is_secret_key, record, snapshot
from portal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

SECRET = "s3cr3t-Value-that-must-never-appear"
FERNET = "gAAAAABnQ" + "x" * 80 + "=="


def test_secret_looking_keys_are_redacted_at_any_depth(alice, contoso):
    before = {
        "client_secret": SECRET,
        "apiToken": SECRET,
        "password": SECRET,
        "credentials": {"anything": SECRET},
        "nested": [{"private_key": SECRET, "display_name": "Contoso app"}],
        "secret_ciphertext": b"\x00\x01",
        "harmless_note": FERNET,
    }
    after = {
        "client_secret": SECRET,
        "api_key": SECRET,
        "secret_expires_at": "2027-05-01",
        "secret_set": True,
        "okta_token": None,
        "name": "Contoso",
    }
    event = record("connection.update", actor=alice, tenant=contoso, before=before, after=after)

    stored = AuditEvent.objects.get(pk=event.pk)
    dumped = json.dumps([stored.before, stored.after])
    assert SECRET not in dumped and FERNET not in dumped
    assert stored.before["client_secret"] == REDACTED
    assert stored.before["apiToken"] == REDACTED
    assert stored.before["credentials"] == REDACTED
    assert stored.before["nested"] == [{"private_key": REDACTED, "display_name": "Contoso app"}]
    assert stored.before["secret_ciphertext"] == REDACTED
    assert stored.before["harmless_note"] == REDACTED
    assert stored.after == {
        "client_secret": REDACTED,
        "api_key": REDACTED,
        "secret_expires_at": "2027-05-01",
        "secret_set": True,
        "okta_token": None,
        "name": "Contoso",
    }
    assert stored.hash == stored.compute_hash()


def test_snapshot_redacts_the_password_hash(alice):
    alice.set_password(SECRET)
    alice.save()
    state = snapshot(alice)
    assert state["password"] == REDACTED
    assert SECRET not in json.dumps(state) and alice.password not in json.dumps(state)


@pytest.mark.parametrize(
    "key",
    ["secret", "clientSecret", "API_TOKEN", "passwd", "encryptedKey", "key", "Credential", "otp"],
)
def test_secret_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "monkey",
        "keyboard_layout",
        "token_expires_at",
        "secret_set_at",
        "secret_expires_on",
        "client_id",
        "primary_domain",
    ],
)
def test_plain_keys(key):
    assert not is_secret_key(key)
