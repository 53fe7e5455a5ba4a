"""The audit trail: one append-only table of events, chained by keyed hashes.

Chains are per tenant (chain key ``tenant:<id>``), plus one ``global`` chain for MSP-wide
events that belong to no tenant (MSP staff, MSP-wide role templates; events about a client's
own people are on its chain: ``portal.audit.people``). See
``AuditChainHead`` for why, and ``portal.audit.events.record`` for the one way to write.

Each event's hash is an HMAC (``portal.audit.keys``) over its content and the hash of the
event before it, so nobody without the key can edit a row and recompute the chain after it;
the chain head is signed the same way, so nobody without the key can move it back over
deleted events.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from typing import Any

from django.db import models
from django.utils import timezone

from . import keys
from .process import SYSTEM
from .wording import action_words

GLOBAL_CHAIN = "global"
GENESIS_HASH = "0" * 64
# Part of the hashed content. 1 was plain SHA-256 without key id (before migration 0005);
# a change of content needs a migration that re-keys the chains, as 0005 does.
HASH_VERSION = 2

HASHED_FIELDS = (
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
    "key_id",
    "client_request_id",
)


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove an audit event."""


def chain_key_for(tenant_id: int | None) -> str:
    return GLOBAL_CHAIN if tenant_id is None else f"tenant:{tenant_id}"


class ActorKind(models.TextChoices):
    PERSON = "person", "Person"
    SYSTEM = "system", "System"
    WEBHOOK = "webhook", "Webhook"
    ANONYMOUS = "anonymous", "Anonymous"


class Result(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    DENIED = "denied", "Denied"


class AuditEventQuerySet(models.QuerySet):
    """Reads only: bulk changes and deletes are refused before they reach the database."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit events are append-only: update() is refused")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only: delete() is refused")

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        raise AppendOnlyError("audit events are append-only: bulk_update() is refused")

    def _raw_delete(self, using: str) -> int:  # reached by cascades and Collector fast paths
        raise AppendOnlyError("audit events are append-only: delete is refused")


class AuditEvent(models.Model):
    """One thing that happened. Written once by ``events.record``; never changed or deleted.

    The actor and the tenant are kept as ids plus display text, not foreign keys: deleting a
    person or a tenant must never touch (or cascade into) the trail, and the portal, the
    bottom layer, must not import ``tenants``.
    """

    timestamp = models.DateTimeField()
    chain_key = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()

    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_display = models.CharField(max_length=255, blank=True)

    tenant_id = models.BigIntegerField(null=True, blank=True)
    tenant_name = models.CharField(max_length=255, blank=True)

    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_display = models.CharField(max_length=255, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.SUCCESS)

    request_id = models.CharField(max_length=64, blank=True)  # ours, made per request
    # What the client sent as X-Request-ID: kept for correlation, never taken as our id.
    client_request_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    job_id = models.CharField(max_length=64, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)

    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32, default="", db_default="")

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ("-timestamp", "-id")
        constraints = [
            models.UniqueConstraint(fields=("chain_key", "seq"), name="audit_event_chain_seq_uniq"),
        ]
        # Behind the filters of the audit pages (keyset pagination on timestamp, id).
        indexes = [
            models.Index(fields=("tenant_id", "timestamp", "id"), name="audit_tenant_time_idx"),
            models.Index(fields=("timestamp", "id"), name="audit_time_idx"),
            models.Index(fields=("action", "timestamp"), name="audit_action_time_idx"),
            models.Index(fields=("target_type", "target_id"), name="audit_target_idx"),
            models.Index(fields=("actor_user_id", "timestamp"), name="audit_actor_time_idx"),
            models.Index(fields=("job_id",), name="audit_job_idx"),
        ]

    def __str__(self) -> str:
        actor = self.actor_display or self.actor_kind
        return f"{self.action} by {actor} ({self.chain_key}#{self.seq})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only: a saved event cannot change")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only: an event cannot be deleted")

    @property
    def actor_label(self) -> str:
        """Who acted, as the pages say it: a person's name, or "the system" (with the process
        that acted, and its job when it worked for one); events recorded before the process
        was named say "System"."""
        if self.actor_kind != ActorKind.SYSTEM:
            return self.actor_display or self.actor_username or self.get_actor_kind_display()
        said = SYSTEM if self.actor_display in ("", "System") else self.actor_display
        return f"{said}, job\u00a0#{self.job_id}" if self.job_id else said  # "job #N" whole

    @property
    def action_words(self) -> str:
        return action_words(self.action)

    def canonical_content(self) -> bytes:
        """The bytes the hash covers: every field but id and hash, as sorted compact JSON.

        Values are normalised the same way whether they come from ``record`` or back from the
        database (timestamps in UTC with microseconds, IPs in their compressed form, integral
        floats as ints, since PostgreSQL's jsonb gives ``1e20`` back as an integer).
        """
        content = {name: _canonical(getattr(self, name)) for name in HASHED_FIELDS}
        content["source_ip"] = _canonical_ip(self.source_ip)
        content["v"] = HASH_VERSION
        return json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode()

    def compute_hash(self) -> str:
        """The HMAC under this event's key id; UnknownKeyError when that key is not configured."""
        return keys.mac(self.key_id, "event", self.canonical_content())

    def seal(self, seq: int, prev_hash: str) -> None:
        """Place the event after ``prev_hash`` at ``seq`` and hash it under the current key."""
        self.seq, self.prev_hash, self.key_id = seq, prev_hash, keys.current_key_id()
        self.hash = self.compute_hash()

    def hash_problem(self) -> str | None:
        return keys.signature_problem(
            self.key_id,
            "event",
            self.canonical_content(),
            self.hash,
            changed="content does not match its keyed hash: the row was edited "
            "(or its hash recomputed without the key)",
        )


class AuditChainHead(models.Model):
    """The last sequence number and hash of one chain; its row lock serialises appends.

    Why one chain per tenant rather than one global chain:
    - a tenant's trail is verified on its own: a client's auditor checks their chain without
      seeing (or needing) any other client's events, and "Verify integrity" for one tenant
      walks thousands of rows, not the whole table;
    - retention is per tenant: pruning a tenant's oldest events cuts the front of its own
      chain only, anchored by a checkpoint of the last removed hash;
    - appends for different tenants lock different head rows, so a busy tenant (a bulk
      import) never queues every other tenant's writes behind one lock.

    ``record`` takes this row ``select_for_update`` and holds it until the caller's
    transaction commits, so two writers can never claim the same sequence number or build on
    the same previous hash. (After the process's own last append it skips that read: its
    UPDATE matches only the seq and hash that append left, and locks the row as it writes.)
    The head is also a witness: ``verify`` checks that the chain ends where the head says,
    which catches rows deleted from (or forged onto) the end. It is signed on every append, so
    moving it back over deleted rows needs the key.
    """

    chain_key = models.CharField(max_length=40, primary_key=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)
    updated_at = models.DateTimeField(auto_now=True)
    key_id = models.CharField(max_length=32, blank=True)
    signature = models.CharField(max_length=64, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)

    # What ``advance`` changes: the columns an append writes back (``events._append``).
    ADVANCED_FIELDS = ("seq", "hash", "key_id", "signature", "signed_at", "updated_at")

    def __str__(self) -> str:
        return f"{self.chain_key} @ {self.seq}"

    def signed_content(self) -> bytes:
        at = _canonical(self.signed_at)
        return f"{self.chain_key}|{self.seq}|{self.hash}|{at}|{self.key_id}".encode()

    def advance(self, seq: int, hash_: str) -> None:
        """Move the head to the chain's new last event and sign it under the current key."""
        self.seq, self.hash = seq, hash_
        self.key_id, self.signed_at = keys.current_key_id(), timezone.now()
        self.signature = keys.mac(self.key_id, "head", self.signed_content())

    def signature_problem(self) -> str | None:
        return keys.signature_problem(
            self.key_id,
            "head",
            self.signed_content(),
            self.signature,
            changed="its signature does not hold: the head was moved or rewritten without "
            "the key (as when it is moved back over deleted events)",
        )


def _canonical(value: Any) -> Any:
    if type(value) in _AS_THEY_ARE:  # most values: none of the conversions below applies
        return value
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


_AS_THEY_ARE = frozenset({str, int, bool, type(None)})


def _canonical_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return value


class AuditCheckpoint(models.Model):
    """Where a pruned chain now starts: the seq and hash of the last removed event, signed.

    Retention removes a chain's oldest events; the first remaining event names the removed
    one's hash as ``prev_hash``. Verification starts from the newest checkpoint whose
    signature holds, so the chain stays checkable, and a forged or deleted checkpoint, or a
    row removed without one, still shows. On PostgreSQL the append-only trigger lets a DELETE
    through only for rows at or below a checkpoint of their chain.
    """

    chain_key = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    events_removed = models.PositiveBigIntegerField()
    removed_before = models.DateTimeField()  # the cutoff: every removed event is older
    created_at = models.DateTimeField()
    signature = models.CharField(max_length=64)
    key_id = models.CharField(max_length=32, default="")

    class Meta:
        ordering = ("chain_key", "-seq")
        constraints = [
            models.UniqueConstraint(fields=("chain_key", "seq"), name="audit_checkpoint_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.chain_key} from seq {self.seq + 1}"

    def signed_content(self) -> bytes:
        cutoff = _canonical(self.removed_before)
        return (
            f"{self.chain_key}|{self.seq}|{self.hash}|{self.events_removed}|{cutoff}|{self.key_id}"
        ).encode()

    def sign(self) -> None:
        self.key_id = keys.current_key_id()
        self.signature = keys.mac(self.key_id, "checkpoint", self.signed_content())

    def signature_problem(self) -> str | None:
        return keys.signature_problem(
            self.key_id,
            "checkpoint",
            self.signed_content(),
            self.signature,
            changed="not signed by this portal: it was forged or altered",
        )
