"""Key the audit chains (issue 12): each event's hash becomes an HMAC-SHA256 under
AUDIT_SIGNING_KEYS with the key id stored on the event, chain heads are signed, and
retention checkpoints are signed under the same keys.

Existing chains are re-keyed here, chain by chain, but only as far as they verify under the
old plain SHA-256 scheme: re-keying a row that was already tampered with would launder it.
From a chain's first broken row on, rows keep their old hashes and get the key id
"sha256-legacy", which never verifies, so `verify_audit` keeps naming the break; a broken
chain's head and a checkpoint whose old signature fails are left unsigned the same way.

Only someone holding the key can re-key a chain, and whoever runs this migration does (it
reads AUDIT_SIGNING_KEYS): run it, as every migration, from a trusted deployment.

The hashing below is a frozen copy of the model code of this version (content version 1:
plain SHA-256; version 2: keyed), so that later changes to the models cannot change what this
migration did. On PostgreSQL the append-only trigger (0002/0003) is switched off for this
transaction only, around the rewrite. Reversing re-hashes the chains that verify under the
keys back to plain SHA-256, the same way.

The two event columns are added with ALTER TABLE ... ADD COLUMN on both databases: Django
would rebuild the whole table on SQLite for a NOT NULL column, losing the raw indexes of 0004.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
from typing import Any

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone
from django.utils.crypto import salted_hmac

TABLE = "audit_auditevent"
TRIGGER = "audit_event_append_only"
LEGACY = "sha256-legacy"
GENESIS = "0" * 64
BATCH = 2000
OLD_CHECKPOINT_SALT = "portal.audit.checkpoint"
FIELDS_V1 = (
    "chain_key",
    "seq",
    "prev_hash",
    "timestamp",
    "actor_kind",
    "actor_user_id",
    "actor_username",
    "actor_display",
    "tenant_id",
    "tenant_name",
    "action",
    "target_type",
    "target_id",
    "target_display",
    "before",
    "after",
    "result",
    "request_id",
    "job_id",
    "source_ip",
)
FIELDS_V2 = (*FIELDS_V1, "key_id", "client_request_id")


def _canonical(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _canonical_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


def _content(row: Any, fields: tuple[str, ...], version: int) -> bytes:
    content = {name: _canonical(getattr(row, name)) for name in fields}
    content["source_ip"] = _canonical_ip(row.source_ip)
    content["v"] = version
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _mac(key_id: str, purpose: str, message: bytes) -> str:
    key = settings.AUDIT_SIGNING_KEYS[key_id]
    return hmac.new(key, purpose.encode() + b"\0" + message, hashlib.sha256).hexdigest()


def _mac_holds(key_id: str, purpose: str, message: bytes, signature: str) -> bool:
    if key_id not in settings.AUDIT_SIGNING_KEYS:
        return False
    return hmac.compare_digest(_mac(key_id, purpose, message), signature)


def _head_content(head: Any) -> bytes:
    at = _canonical(head.signed_at)
    return f"{head.chain_key}|{head.seq}|{head.hash}|{at}|{head.key_id}".encode()


def _checkpoint_content(checkpoint: Any, keyed: bool) -> str:
    cutoff = _canonical(checkpoint.removed_before)
    content = (
        f"{checkpoint.chain_key}|{checkpoint.seq}|{checkpoint.hash}|"
        f"{checkpoint.events_removed}|{cutoff}"
    )
    return f"{content}|{checkpoint.key_id}" if keyed else content


class Sha256:
    """The scheme before this migration: plain SHA-256, checkpoints by salted_hmac."""

    def event_ok(self, row: Any) -> bool:
        return hashlib.sha256(_content(row, FIELDS_V1, 1)).hexdigest() == row.hash

    def seal_event(self, row: Any, prev_hash: str) -> None:
        row.prev_hash = prev_hash
        row.hash = hashlib.sha256(_content(row, FIELDS_V1, 1)).hexdigest()

    def mark_event(self, row: Any) -> None:
        pass  # its keyed hash fails the SHA-256 check: the break stays visible

    def checkpoint_ok(self, checkpoint: Any) -> bool:
        return hmac.compare_digest(self._checkpoint_mac(checkpoint), checkpoint.signature)

    def sign_checkpoint(self, checkpoint: Any) -> None:
        checkpoint.signature = self._checkpoint_mac(checkpoint)

    def mark_checkpoint(self, checkpoint: Any) -> None:
        pass

    def head_ok(self, head: Any) -> bool:
        return True  # heads were not signed

    def sign_head(self, head: Any) -> None:
        head.key_id, head.signature, head.signed_at = "", "", None

    def mark_head(self, head: Any) -> None:
        pass

    def _checkpoint_mac(self, checkpoint: Any) -> str:
        secret = getattr(settings, "AUDIT_SIGNING_KEY", "") or settings.SECRET_KEY
        content = _checkpoint_content(checkpoint, keyed=False)
        return salted_hmac(
            OLD_CHECKPOINT_SALT, content, secret=secret, algorithm="sha256"
        ).hexdigest()


class Keyed:
    """The scheme of this migration on: HMAC-SHA256 under AUDIT_SIGNING_KEYS, key id stored."""

    def event_ok(self, row: Any) -> bool:
        return _mac_holds(row.key_id, "event", _content(row, FIELDS_V2, 2), row.hash)

    def seal_event(self, row: Any, prev_hash: str) -> None:
        row.prev_hash, row.key_id = prev_hash, settings.AUDIT_SIGNING_KEY_ID
        row.hash = _mac(row.key_id, "event", _content(row, FIELDS_V2, 2))

    def mark_event(self, row: Any) -> None:
        row.key_id = LEGACY

    def checkpoint_ok(self, checkpoint: Any) -> bool:
        content = _checkpoint_content(checkpoint, keyed=True).encode()
        return _mac_holds(checkpoint.key_id, "checkpoint", content, checkpoint.signature)

    def sign_checkpoint(self, checkpoint: Any) -> None:
        checkpoint.key_id = settings.AUDIT_SIGNING_KEY_ID
        content = _checkpoint_content(checkpoint, keyed=True).encode()
        checkpoint.signature = _mac(checkpoint.key_id, "checkpoint", content)

    def mark_checkpoint(self, checkpoint: Any) -> None:
        checkpoint.key_id = LEGACY

    def head_ok(self, head: Any) -> bool:
        if head.seq == 0 and not head.signature:
            return True
        return _mac_holds(head.key_id, "head", _head_content(head), head.signature)

    def sign_head(self, head: Any) -> None:
        head.key_id, head.signed_at = settings.AUDIT_SIGNING_KEY_ID, timezone.now()
        head.signature = _mac(head.key_id, "head", _head_content(head))

    def mark_head(self, head: Any) -> None:
        head.key_id, head.signature = LEGACY, ""


def key_chains(apps, schema_editor):
    _convert(apps, schema_editor, old=Sha256(), new=Keyed())


def unkey_chains(apps, schema_editor):
    _convert(apps, schema_editor, old=Keyed(), new=Sha256())


def _convert(apps, schema_editor, *, old: Any, new: Any) -> None:
    models_ = [apps.get_model("audit", name) for name in ("AuditEvent", "AuditChainHead")]
    Checkpoint = apps.get_model("audit", "AuditCheckpoint")
    keys = set(Checkpoint.objects.values_list("chain_key", flat=True))
    for model in models_:
        keys.update(model.objects.order_by().values_list("chain_key", flat=True).distinct())
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}", params=None)
    for chain_key in sorted(keys):
        _convert_chain(chain_key, *models_, Checkpoint, old, new)
    if postgres:
        schema_editor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}", params=None)


def _convert_chain(chain_key: str, Event, Head, Checkpoint, old: Any, new: Any) -> None:
    checkpoints = list(Checkpoint.objects.filter(chain_key=chain_key).order_by("-seq"))
    for checkpoint in checkpoints:
        checkpoint.intact = old.checkpoint_ok(checkpoint)
        (new.sign_checkpoint if checkpoint.intact else new.mark_checkpoint)(checkpoint)
        checkpoint.save(update_fields=["key_id", "signature"])
    anchor = checkpoints[0] if checkpoints else None
    intact = anchor is None or anchor.intact
    seq, old_prev = (anchor.seq, anchor.hash) if anchor else (0, GENESIS)
    new_prev, last = old_prev, -1
    while rows := list(
        Event.objects.filter(chain_key=chain_key, seq__gt=last).order_by("seq")[:BATCH]
    ):
        for row in rows:
            intact = intact and _links(row, chain_key, seq + 1, old_prev) and old.event_ok(row)
            if intact:
                seq, old_prev = row.seq, row.hash
                new.seal_event(row, new_prev)
                new_prev = row.hash
            else:
                new.mark_event(row)
        Event.objects.bulk_update(rows, ["prev_hash", "hash", "key_id"])
        last = rows[-1].seq
    head = Head.objects.filter(chain_key=chain_key).first()
    if head is None:
        return
    if intact and (head.seq, head.hash) == (seq, old_prev) and old.head_ok(head):
        head.hash = new_prev
        new.sign_head(head)
    else:
        new.mark_head(head)
    head.save(update_fields=["hash", "key_id", "signature", "signed_at"])


def _links(row: Any, chain_key: str, seq: int, prev_hash: str) -> bool:
    own_chain = "global" if row.tenant_id is None else f"tenant:{row.tenant_id}"
    return row.seq == seq and row.prev_hash == prev_hash and own_chain == chain_key


def _add_column(name: str, length: int) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"ALTER TABLE {TABLE} ADD COLUMN {name} varchar({length}) DEFAULT '' NOT NULL",
        f"ALTER TABLE {TABLE} DROP COLUMN {name}",
    )


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_audit_search_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="auditevent",
                    name="key_id",
                    field=models.CharField(db_default="", default="", max_length=32),
                ),
                migrations.AddField(
                    model_name="auditevent",
                    name="client_request_id",
                    field=models.CharField(blank=True, db_default="", default="", max_length=64),
                ),
            ],
            database_operations=[_add_column("key_id", 32), _add_column("client_request_id", 64)],
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="key_id",
            field=models.CharField(blank=True, max_length=32),
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="signature",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="signed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="key_id",
            field=models.CharField(default="", max_length=32),
        ),
        migrations.RunPython(key_chains, unkey_chains, elidable=False),
    ]
