"""Issue 12, item 6 and the X-Request-ID item: the audit chain is keyed (HMAC under
AUDIT_SIGNING_KEYS, key id per event), its heads are signed, and a client never picks our
request id.

The attacks are those of the attack run: someone who can write the database, but does not
hold the key, rewrites a row and recomputes everything after it, or deletes the newest row and
moves the head back.
"""
# These tests tamper with the tables through raw SQL on purpose; the names are constants.
# ruff: noqa: S608

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from portal.audit.events import record
from portal.audit.models import AuditChainHead, AuditEvent
from portal.audit.verify import verify_all
from portal.settings import _audit_signing_keys
from reports import scale
from tenants.models import Tenant
from tests.reports.audit_support import audit_url, csv_rows, export_url, tampering

TABLE = AuditEvent._meta.db_table
ATTACKER_KEY = b"not-the-portal-key-but-32-bytes!"


def run_verify(capsys, *args: str) -> tuple[int, str]:
    try:
        call_command("verify_audit", *args)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def contoso(db) -> Tenant:
    return Tenant.objects.create(name="Contoso", slug="contoso", primary_domain="contoso.test")


@pytest.fixture
def chain(contoso) -> list[AuditEvent]:
    """Ten events of Contoso's chain, made by record() as the portal makes them."""
    return [
        record("identity.change", actor="system", tenant=contoso, after={"n": n}) for n in range(10)
    ]


def sha256_rehash(event: AuditEvent) -> str:
    return hashlib.sha256(event.canonical_content()).hexdigest()


def wrong_key_rehash(event: AuditEvent) -> str:
    # The attacker knows the format exactly (purpose label included), only not the key.
    message = b"event\0" + event.canonical_content()
    return hmac.new(ATTACKER_KEY, message, hashlib.sha256).hexdigest()


def rewrite_and_recompute(
    events: list[AuditEvent], index: int, rehash: Callable[[AuditEvent], str]
) -> None:
    """Change one row, recompute every later hash and link, and move the head to the end."""
    rows = [AuditEvent.objects.get(pk=e.pk) for e in events[index:]]
    rows[0].after = {"n": "rewritten"}
    prev = rows[0].prev_hash
    with tampering() as cursor:
        for row in rows:
            row.prev_hash = prev
            row.hash = prev = rehash(row)
            cursor.execute(
                f"UPDATE {TABLE} SET after = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(row.after), row.prev_hash, row.hash, row.pk],
            )
    AuditChainHead.objects.filter(chain_key=events[0].chain_key).update(hash=prev)


@pytest.mark.parametrize("rehash", [sha256_rehash, wrong_key_rehash], ids=["sha256", "other-key"])
def test_a_rewritten_row_with_every_later_hash_recomputed_is_named(capsys, chain, rehash):
    rewrite_and_recompute(chain, 6, rehash)

    code, output = run_verify(capsys)

    assert code == 1
    assert f"BROKEN chain tenant:{chain[0].tenant_id}, row id={chain[6].pk} seq=7:" in output
    assert "the row was edited" in output
    assert "intact" not in output


def test_the_newest_row_deleted_and_the_head_moved_back_is_caught(capsys, chain):
    newest, before = chain[-1], chain[-2]
    with tampering() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [newest.pk])
    head = AuditChainHead.objects.get(chain_key=newest.chain_key)
    head.seq, head.hash = before.seq, before.hash
    # Even re-signed, under the portal's key id, with a key that is not the portal's.
    head.signature = hmac.new(ATTACKER_KEY, b"head\0" + head.signed_content(), "sha256").hexdigest()
    AuditChainHead.objects.filter(pk=head.pk).update(
        seq=head.seq, hash=head.hash, signature=head.signature
    )

    code, output = run_verify(capsys)

    assert code == 1
    assert f"chain {newest.chain_key}: chain head (seq 9): its signature does not hold" in output


def test_events_and_heads_carry_the_key_id_they_were_signed_with(settings, chain):
    head = AuditChainHead.objects.get(chain_key=chain[0].chain_key)
    stored = AuditEvent.objects.filter(chain_key=head.chain_key)
    assert set(stored.values_list("key_id", flat=True)) == {settings.AUDIT_SIGNING_KEY_ID}
    assert head.key_id == settings.AUDIT_SIGNING_KEY_ID
    assert (head.seq, head.hash) == (10, chain[-1].hash) and len(head.signature) == 64


def test_old_and_new_keys_verify_after_a_rotation_until_the_old_key_is_removed(
    capsys, settings, contoso
):
    old_key, new_key = os.urandom(32), os.urandom(32)
    settings.AUDIT_SIGNING_KEYS, settings.AUDIT_SIGNING_KEY_ID = {"k2025": old_key}, "k2025"
    before = [record("tenant.update", actor="system", tenant=contoso) for _ in range(3)]
    settings.AUDIT_SIGNING_KEYS = {"k2026": new_key, "k2025": old_key}
    settings.AUDIT_SIGNING_KEY_ID = "k2026"
    after = [record("tenant.update", actor="system", tenant=contoso) for _ in range(2)]

    assert {e.key_id for e in before} == {"k2025"} and {e.key_id for e in after} == {"k2026"}
    assert run_verify(capsys) == (0, "Checked 1 chain(s), 5 event(s): intact.\n")

    settings.AUDIT_SIGNING_KEYS = {"k2026": new_key}
    code, output = run_verify(capsys)
    assert code == 1
    assert (
        f"row id={before[0].pk} seq=1: signed with key id 'k2025', which is not in "
        "AUDIT_SIGNING_KEYS" in output
    )


def test_a_rollback_to_a_copied_head_is_caught_by_the_witness_file(
    capsys, tmp_path, contoso, chain
):
    """A signed head copied while it was current can be put back after deleting the rows
    since: nothing left in the database shows it (docs/audit.md says so), the witness does."""
    key = chain[0].chain_key
    copied = AuditChainHead.objects.values("seq", "hash", "key_id", "signature", "signed_at")
    copied = copied.get(chain_key=key)
    newest = record("identity.change", actor="system", tenant=contoso)
    witness = tmp_path / "audit-witness.json"
    assert run_verify(capsys, "--witness", str(witness))[0] == 0
    assert json.loads(witness.read_text())["chains"][key]["seq"] == 11

    with tampering() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [newest.pk])
    AuditChainHead.objects.filter(chain_key=key).update(**copied)

    assert run_verify(capsys)[0] == 0
    code, output = run_verify(capsys, "--witness", str(witness))
    assert code == 1
    assert f"chain {key}: the chain ends at seq 10 but was witnessed at seq 11" in output
    assert json.loads(witness.read_text())["chains"][key]["seq"] == 11  # kept as evidence


def test_a_chain_deleted_whole_is_caught_by_the_witness_file(capsys, tmp_path, chain):
    witness = tmp_path / "audit-witness.json"
    assert run_verify(capsys, "--witness", str(witness))[0] == 0
    with tampering() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE chain_key = %s", [chain[0].chain_key])
    AuditChainHead.objects.filter(chain_key=chain[0].chain_key).delete()

    assert run_verify(capsys) == (0, "Checked 0 chain(s), 0 event(s): intact.\n")
    code, output = run_verify(capsys, "--witness", str(witness))
    assert code == 1
    assert f"chain {chain[0].chain_key}: witnessed at seq 10, but the chain is gone" in output


def test_our_request_id_is_ours_and_the_clients_is_kept_apart(client, alpha, msp_admin):
    client.force_login(msp_admin)
    sent = "client-chosen-id-0001"
    responses = [
        client.post(reverse("audit_verify"), {"tenant": "alpha"}, HTTP_X_REQUEST_ID=sent)
        for _ in range(2)
    ]

    events = list(AuditEvent.objects.filter(action="audit.verify").order_by("seq"))
    assert [e.client_request_id for e in events] == [sent, sent]
    assert [e.request_id for e in events] == [r["X-Request-ID"] for r in responses]
    assert events[0].request_id != events[1].request_id
    assert all(uuid.UUID(hex=e.request_id).version == 4 for e in events)
    page = client.get(audit_url(tenant="alpha", action="audit.verify")).content.decode()
    assert f"{events[0].request_id} <span" in page and f"(client's: {sent})" in page


def test_a_hostile_client_request_id_is_cleaned_and_bounded(client, alpha, msp_admin):
    client.force_login(msp_admin)
    sent = "evil\t id\x7f<script>é" + "x" * 200
    client.post(reverse("audit_verify"), {"tenant": "alpha"}, HTTP_X_REQUEST_ID=sent)

    event = AuditEvent.objects.get(action="audit.verify")
    assert event.client_request_id == ("evilid<script>" + "x" * 200)[:64]
    assert event.request_id != event.client_request_id


def test_the_export_carries_both_ids_and_the_clients_cannot_be_a_formula(client, alpha, msp_admin):
    client.force_login(msp_admin)
    client.post(reverse("audit_verify"), {"tenant": "alpha"}, HTTP_X_REQUEST_ID="=cmd|calc")
    event = AuditEvent.objects.get(action="audit.verify")

    rows = csv_rows(client.get(export_url(tenant="alpha", action="audit.verify")))

    assert [(r["request_id"], r["client_request_id"]) for r in rows] == [
        (event.request_id, "'=cmd|calc")
    ]
    assert rows[0]["key_id"] == event.key_id


def test_seed_scale_writes_keyed_chains_that_verify(settings, db):
    figures = scale.seed(tenants=3, identities=30, events=300, days=30, log=lambda *_: None)

    assert figures.events == 300
    report = verify_all()
    assert report.ok, [str(b) for b in report.breaks]
    assert report.events_checked >= 300
    assert set(AuditEvent.objects.values_list("key_id", flat=True)) == {
        settings.AUDIT_SIGNING_KEY_ID
    }
    assert not AuditChainHead.objects.filter(seq__gt=0, signature="").exists()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "names no key"),
        ("k1:" + base64.b64encode(b"short").decode(), "at least 32 bytes"),
        ("bad id:" + base64.b64encode(bytes(range(32))).decode(), "is not a key id"),
        ("sha256-legacy:" + base64.b64encode(bytes(range(32))).decode(), "is not a key id"),
    ],
)
def test_unusable_audit_signing_keys_are_refused(value, says):
    with pytest.raises(ImproperlyConfigured, match=says):
        _audit_signing_keys(value)


def test_production_refuses_to_start_without_audit_signing_keys(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIT_SIGNING_KEY")}
    env |= {
        "DJANGO_ENV": "production",
        "SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
        "ALLOWED_HOSTS": "portal.example.com",
        "CREDENTIAL_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
    }
    result = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "check"],
        cwd=Path(settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "AUDIT_SIGNING_KEYS" in result.stderr


MIGRATION = importlib.import_module("portal.audit.migrations.0005_keyed_chain")
BEFORE, KEYED = ("audit", "0004_audit_search_indexes"), ("audit", "0005_keyed_chain")


@pytest.mark.django_db(transaction=True)
def test_the_migration_keys_intact_chains_and_leaves_broken_ones_broken(settings):
    """Chains written under plain SHA-256 before 0005: an intact one (pruned once, behind an
    old-style checkpoint) is re-keyed and verifies; a tampered one is not laundered."""
    MigrationExecutor(connection).migrate([BEFORE])
    apps = MigrationExecutor(connection).loader.project_state([BEFORE]).apps
    intact, tampered = _old_chain(apps, 101, 6), _old_chain(apps, 202, 4)
    _old_prune(apps, intact, through=2)
    with tampering() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET after = %s WHERE id = %s", ['{"n": 99}', tampered[1]])

    MigrationExecutor(connection).migrate([KEYED])

    report = verify_all()
    results = {chain.chain_key: chain for chain in report.chains}
    assert results["tenant:101"].ok and results["tenant:101"].events_checked == 4
    assert str(results["tenant:202"].broken).startswith(
        f"chain tenant:202, row id={tampered[1]} seq=2:"
    )
    key_ids = AuditEvent.objects.filter(chain_key="tenant:202").order_by("seq")
    assert list(key_ids.values_list("key_id", flat=True)) == [
        settings.AUDIT_SIGNING_KEY_ID,
        *["sha256-legacy"] * 3,
    ]
    appended = record("tenant.update", actor="system", tenant=_Stub(101))
    assert appended.seq == 7 and verify_all(101).ok


class _Stub:
    def __init__(self, pk: int) -> None:
        self.pk = pk

    def __str__(self) -> str:
        return f"Tenant {self.pk}"


def _old_chain(apps, tenant_id: int, length: int) -> list[int]:
    """Events and a head as the portal wrote them before 0005 (plain SHA-256)."""
    Event = apps.get_model("audit", "AuditEvent")
    Head = apps.get_model("audit", "AuditChainHead")
    chain_key, prev, ids = f"tenant:{tenant_id}", MIGRATION.GENESIS, []
    for seq in range(1, length + 1):
        row = Event(
            timestamp=timezone.now(),
            chain_key=chain_key,
            seq=seq,
            actor_kind="system",
            actor_username="system",
            actor_display="System",
            tenant_id=tenant_id,
            tenant_name=f"Tenant {tenant_id}",
            action="tenant.update",
            after={"n": seq},
            source_ip="2001:db8::1",
        )
        MIGRATION.Sha256().seal_event(row, prev)
        row.save()
        prev = row.hash
        ids.append(row.pk)
    Head.objects.create(chain_key=chain_key, tenant_id=tenant_id, seq=length, hash=prev)
    return ids


def _old_prune(apps, ids: list[int], through: int) -> None:
    Event = apps.get_model("audit", "AuditEvent")
    Checkpoint = apps.get_model("audit", "AuditCheckpoint")
    last = Event.objects.get(pk=ids[through - 1])
    checkpoint = Checkpoint(
        chain_key=last.chain_key,
        seq=through,
        hash=last.hash,
        events_removed=through,
        removed_before=timezone.now(),
        created_at=timezone.now(),
    )
    MIGRATION.Sha256().sign_checkpoint(checkpoint)
    checkpoint.save()
    with tampering() as cursor:  # as retention did: the trigger lets these go
        for event_id in ids[:through]:
            cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [event_id])
