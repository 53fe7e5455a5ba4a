"""Recording audit events: the one function every state change calls.

Call ``record`` inside the transaction that makes the change (a service function's
``transaction.atomic()``): the event and the change commit or roll back together. The chain
head of the event's tenant stays locked until that transaction ends, so keep the
transaction short and do slow work (directory calls) outside it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, models, transaction
from django.db.models.sql import InsertQuery, UpdateQuery
from django.http import HttpRequest
from django.utils import timezone

from portal.models import Role, role_of

from .context import current_channel
from .models import (
    GENESIS_HASH,
    ActorKind,
    AuditChainHead,
    AuditEvent,
    Result,
    chain_key_for,
)

REDACTED = "[redacted]"

# A key is secret if it contains one of these ...
_SECRET_FRAGMENTS = (
    "secret",
    "passw",
    "passphrase",
    "pwd",
    "token",
    "cipher",
    "credential",
    "privatekey",
    "apikey",
)
# ... or has one of these as a whole word (``api_key``, ``encryptedKey``, ``key``).
_SECRET_WORDS = frozenset({"key", "keys", "salt", "otp", "pin", "hmac", "signature"})
# Metadata about a secret is not secret: ``secret_expires_at``, ``token_set_on``.
_METADATA_LAST_WORDS = frozenset({"at", "on", "date", "expiry", "expires", "days", "set"})
# Fernet tokens (our credential ciphertext) are redacted whatever key they sit under.
_FERNET_TOKEN = re.compile(r"^gAAAAA[A-Za-z0-9_\-]{40,}={0,2}$")
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


@dataclass(frozen=True)
class ServiceActor:
    """A system that acts through a credential of its own (a SCIM client's token): recorded
    as a webhook actor under the credential's name, so the trail says which one it was."""

    username: str  # e.g. "scim-token:12"
    display: str  # e.g. "SCIM token Okta production"


class HasPk(Protocol):
    pk: Any


TargetSpec = models.Model | tuple[str, Any, str] | None


def record(
    action: str,
    *,
    actor: Any,
    tenant: HasPk | None = None,
    target: TargetSpec = None,
    before: dict | None = None,
    after: dict | None = None,
    result: str = "success",
    request: HttpRequest | None = None,
    job_id: int | str | None = None,
) -> AuditEvent:
    """Append one event to its tenant's chain (or the global chain when ``tenant`` is None).

    ``actor`` is a User (an AnonymousUser is recorded as "anonymous"), or "system" /
    "webhook". ``target`` is a model instance or a ``(type, id, display)`` tuple.
    ``before``/``after`` are scrubbed of secret-looking keys, but never pass secrets.
    Joins the caller's transaction, or opens one.
    """
    (event,) = record_all(
        [
            event_for(
                action,
                actor=actor,
                tenant=tenant,
                target=target,
                before=before,
                after=after,
                result=result,
                request=request,
                job_id=job_id,
            )
        ]
    )
    return event


def event_for(
    action: str,
    *,
    actor: Any,
    tenant: HasPk | None = None,
    target: TargetSpec = None,
    before: dict | None = None,
    after: dict | None = None,
    result: str = "success",
    request: HttpRequest | None = None,
    job_id: int | str | None = None,
) -> AuditEvent:
    """An event checked and built as ``record`` takes it, not yet in its chain: for
    ``record_all``, which appends several at once."""
    if not _ACTION.match(action):
        raise ValueError(f"audit action must look like 'noun.verb', got {action!r}")
    if result not in Result.values:
        raise ValueError(f"audit result must be one of {Result.values}, got {result!r}")
    if tenant is not None and tenant.pk is None:
        raise ValueError("audit tenant must be saved before an event can name it")
    tenant_id = None if tenant is None else int(tenant.pk)
    return AuditEvent(
        chain_key=chain_key_for(tenant_id),
        tenant_id=tenant_id,
        tenant_name=_clip("" if tenant is None else str(tenant), 255),
        action=action,
        result=result,
        before=_clean_state(before),
        after=_clean_state(after),
        job_id="" if job_id is None else str(job_id),
        **_actor_fields(actor),
        **_target_fields(target),
        **_request_fields(request),
    )


def record_all(events: list[AuditEvent]) -> list[AuditEvent]:
    """Append events built by ``event_for`` to their chains, in the order given: each
    chain's head locked once and its events inserted in one statement. Joins the caller's
    transaction, or opens one."""
    chains: dict[str, list[AuditEvent]] = {}
    for event in events:
        chains.setdefault(event.chain_key, []).append(event)
    with transaction.atomic(savepoint=False):
        # Heads in one order whatever the caller's, so two writers never wait on each other.
        for chain_key in sorted(chains):
            _append(chains[chain_key])
    return events


def _append(chain: list[AuditEvent]) -> None:
    head = _lock_head(chain[0].chain_key, chain[0].tenant_id)
    for event in chain:
        # Stamped under the lock, so seq order and time order agree within a chain.
        event.timestamp = timezone.now()
    seal_after(head, chain)
    if connection.vendor == "postgresql":
        _insert_advancing_head(chain, head)
    else:
        AuditEvent.objects.bulk_create(chain)
        head.save(update_fields=head.ADVANCED_FIELDS)


def _insert_advancing_head(events: list[AuditEvent], head: AuditChainHead) -> None:
    """Insert `events` and save the advanced `head` in one statement (PostgreSQL): the head's
    UPDATE rides in a data-modifying CTE in front of the events' INSERT.

    The locked read cannot join them: the new hashes are HMACs over the old head, made in
    Python between the two. Both statements are built by Django's compilers, so their columns
    follow the models. The caller holds the head's row lock, so the UPDATE finds its row."""
    update = UpdateQuery(AuditChainHead)
    advanced = {  # pre_save, as save() would: it stamps updated_at
        name: head._meta.get_field(name).pre_save(head, add=False) for name in head.ADVANCED_FIELDS
    }
    update.add_update_values(advanced)
    update.add_filter("pk", head.pk)
    update_sql, update_params = update.get_compiler(connection=connection).as_sql()

    insert = InsertQuery(AuditEvent)
    insert.insert_values([f for f in AuditEvent._meta.concrete_fields if not f.primary_key], events)
    compiler = insert.get_compiler(connection=connection)
    compiler.returning_fields = [AuditEvent._meta.pk]
    ((insert_sql, insert_params),) = compiler.as_sql()

    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH advanced_head AS ({update_sql}) {insert_sql}", (*update_params, *insert_params)
        )
        ids = cursor.fetchall()
    # As bulk_create leaves them: saved, with their ids (RETURNING keeps the VALUES order).
    for event, (pk,) in zip(events, ids, strict=True):
        event.pk = pk
        event._state.adding, event._state.db = False, connection.alias


def seal_after(head: AuditChainHead, events: list[AuditEvent]) -> None:
    """Chain `events` on from `head` under the current key, and advance and sign the head.

    The caller holds the head's row lock and saves the events and the head."""
    seq, prev = head.seq, head.hash
    for event in events:
        seq += 1
        event.seal(seq, prev)
        prev = event.hash
    head.advance(seq, prev)


def snapshot(
    instance: models.Model, fields: Iterable[str] | None = None, exclude: Iterable[str] = ()
) -> dict[str, Any]:
    """A JSON-safe dict of ``instance``'s concrete fields, for ``before``/``after``.

    Foreign keys appear under their column name with the id (``tenant_id: 3``); dates and
    times as ISO strings; binary values and secret-looking keys are redacted. ``fields`` and
    ``exclude`` accept either a field's name or its column name.
    """
    wanted = None if fields is None else set(fields)
    skipped = set(exclude)
    state: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        names = {field.name, field.attname}
        if (wanted is not None and not names & wanted) or names & skipped:
            continue
        state[field.attname] = _json_safe(field.value_from_object(instance))
    return scrub(state)


def scrub(value: Any) -> Any:
    """Replace the values of secret-looking keys (at any depth) with "[redacted]"."""
    if isinstance(value, Mapping):
        return {str(k): _scrub_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str) and _FERNET_TOKEN.match(value):
        return REDACTED
    return value


def is_secret_key(key: str) -> bool:
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower())
    if not words or words[-1] in _METADATA_LAST_WORDS:
        return False
    squashed = "".join(words)
    return any(f in squashed for f in _SECRET_FRAGMENTS) or any(w in _SECRET_WORDS for w in words)


def _scrub_item(key: str, value: Any) -> Any:
    # None and booleans cannot carry a secret, and "secret_set: true" is worth keeping.
    if is_secret_key(key) and value is not None and not isinstance(value, bool):
        return REDACTED
    return scrub(value)


def _clean_state(state: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if state is None:
        return None
    # Round-trip through JSON so that what is hashed is exactly what the database returns.
    return json.loads(json.dumps(scrub(_json_safe(dict(state)))))


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    return str(value)


def _lock_head(chain_key: str, tenant_id: int | None) -> AuditChainHead:
    heads = AuditChainHead.objects.select_for_update()
    head = heads.filter(chain_key=chain_key).first()
    if head is None:
        # A chain's first event: create the head; a concurrent first writer makes this a no-op.
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(chain_key=chain_key, tenant_id=tenant_id, seq=0, hash=GENESIS_HASH)],
            ignore_conflicts=True,
        )
        head = heads.get(chain_key=chain_key)
    return head


def _actor_fields(actor: Any) -> dict[str, Any]:
    if isinstance(actor, ServiceActor):
        return {
            "actor_kind": ActorKind.WEBHOOK,
            "actor_username": _clip(actor.username, 150),
            "actor_display": _clip(actor.display, 255),
        }
    if actor == ActorKind.SYSTEM or actor == ActorKind.WEBHOOK:
        kind = ActorKind(actor)
        return {"actor_kind": kind, "actor_username": kind.value, "actor_display": kind.label}
    if getattr(actor, "is_anonymous", False):
        kind = ActorKind.ANONYMOUS
        return {"actor_kind": kind, "actor_username": "", "actor_display": kind.label}
    if getattr(actor, "pk", None) is None or not hasattr(actor, "get_username"):
        raise TypeError(f"audit actor must be a saved User, 'system' or 'webhook', got {actor!r}")
    username = actor.get_username()
    full_name = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
    display = full_name or username
    if role := role_of(actor):
        # In what capacity, as it was then: a later role change does not rewrite the event.
        display = f"{display} ({Role(role).label})"
    if channel := current_channel():
        display = f"{display} via {channel}"
    return {
        "actor_kind": ActorKind.PERSON,
        "actor_user_id": int(actor.pk),
        "actor_username": _clip(username, 150),
        "actor_display": _clip(display, 255),
    }


def _target_fields(target: TargetSpec) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_display": ""}
    if isinstance(target, models.Model):
        kind, pk, display = target._meta.label_lower, target.pk, str(target)
    else:
        kind, pk, display = target
    return {
        "target_type": _clip(str(kind), 100),
        "target_id": "" if pk is None else _clip(str(pk), 64),
        "target_display": _clip(str(display), 255),
    }


def _request_fields(request: HttpRequest | None) -> dict[str, Any]:
    if request is None:
        return {"request_id": "", "client_request_id": "", "source_ip": None}
    return {
        # Both set by RequestIdMiddleware: ours, and the client's X-Request-ID cleaned.
        "request_id": _clip(str(getattr(request, "request_id", "") or ""), 64),
        "client_request_id": _clip(str(getattr(request, "client_request_id", "") or ""), 64),
        "source_ip": _ip_or_none(request.META.get("REMOTE_ADDR")),
    }


def _ip_or_none(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
