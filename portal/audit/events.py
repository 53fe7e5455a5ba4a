"""Recording audit events: the one function every state change calls.

Call ``record`` inside the transaction that makes the change (a service function's
``transaction.atomic()``): the event and the change commit or roll back together. The chain
head of the event's tenant stays locked until that transaction ends, so keep the
transaction short and do slow work (directory calls) outside it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import ipaddress
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery
from django.http import HttpRequest
from django.utils import timezone

from portal import kept_sql
from portal.bulk_rows import database, insert_sql, new_row, saved
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
from .process import system_display

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


# Result.values builds its list on every read: an event checks its result against it.
_RESULTS = frozenset(Result.values)


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
    if result not in _RESULTS:
        raise ValueError(f"audit result must be one of {Result.values}, got {result!r}")
    if tenant is not None and tenant.pk is None:
        raise ValueError("audit tenant must be saved before an event can name it")
    tenant_id = None if tenant is None else int(tenant.pk)
    return new_row(
        AuditEvent,
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


@dataclass
class Riding:
    """Writes of the caller's transaction that ride in the statement of an append
    (PostgreSQL, one chain whose head this process knows: `_insert_if_head_is`), as
    data-modifying `WITH`s in front of the append's; else sent on their own just before it
    (`ride`). `ctes`: "name AS (…)", comma-joined, with `params`; `last`: the one whose rows
    the head's UPDATE reads first, so that the caller's rows are locked before the head, as
    every writer locks (the head last); `select`: `width` columns the statement returns of
    them, with `select_params`; `answer`: those columns once sent."""

    ctes: str
    params: list[Any]
    last: str
    select: str
    select_params: list[Any]
    width: int
    answer: tuple | None = None


def ride(riding: Riding) -> None:
    """`riding`'s writes on their own: one statement."""
    with connection.cursor() as cursor:
        cursor.execute(  # the caller's pieces, built by Django's compilers; values are parameters
            f"WITH {riding.ctes} SELECT {riding.select}",  # noqa: S608
            (*riding.params, *riding.select_params),
        )
        riding.answer = tuple(cursor.fetchone())


def record_all(events: list[AuditEvent], riding: Riding | None = None) -> list[AuditEvent]:
    """Append events built by ``event_for`` to their chains, in the order given: each
    chain's head locked once and its events inserted in one statement. Joins the caller's
    transaction, or opens one. `riding`: the caller's writes, sent in the append's statement
    where they can be, else before it (`Riding`)."""
    chains: dict[str, list[AuditEvent]] = {}
    for event in events:
        chains.setdefault(event.chain_key, []).append(event)
    with transaction.atomic(savepoint=False):
        if riding is not None and not _can_ride(chains):
            ride(riding)
            riding = None
        # Heads in one order whatever the caller's, so two writers never wait on each other.
        for chain_key in sorted(chains):
            _append(chains[chain_key], riding)
    return events


def _can_ride(chains: dict[str, list[AuditEvent]]) -> bool:
    return (
        connection.vendor == "postgresql"
        and len(chains) == 1
        and _known_key(next(iter(chains))) in _known_heads
    )


# The head each chain had after this process's last append, by database and chain. An
# append that finds its chain still there (this process wrote last, as a worker's run does
# from one batch to the next) chains on it without the locked read of the head: the head's
# UPDATE is conditional on the seq and hash the events were sealed after, and the events are
# inserted only if it matched. What is remembered is only a guess: a wrong one (another
# process appended, a rolled back transaction, a flushed database) matches nothing and the
# append goes the locked way.
_known_heads: dict[tuple[str, str], tuple[int, str]] = {}


def _append(chain: list[AuditEvent], riding: Riding | None = None) -> None:
    known = _known_heads.get(_known_key(chain[0].chain_key))
    head = None
    if known is not None:
        appended, head = _append_on(known, chain, riding)
        if appended:
            return
    head = head or _lock_head(chain[0].chain_key, chain[0].tenant_id)
    _stamp(chain)
    seal_after(head, chain)
    if connection.vendor == "postgresql":
        _insert_advancing_head(chain, head)
    else:
        AuditEvent.objects.bulk_create(chain)
        head.save(update_fields=head.ADVANCED_FIELDS)
    _remember(head)


def head_read_sql(tenant_id: int | None) -> tuple[str, list[Any]]:
    """A read of the tenant's chain head (its seq and hash, no lock), for a caller to join to
    a statement it sends anyway before it records (`services.request_onboarding`'s INSERT),
    then to hand to `guess_head`: the append then goes as after this process's own, one
    statement when nobody appended in between. Its SQL is the ORM's, compiled once a process
    (`kept_sql`: the same text for every chain); one parameter."""
    built = kept_sql.kept(("audit_head_read",), _head_read_built, chain_key_for(tenant_id))
    return built.sql, built.params


def _head_read_built(chain_key: str) -> kept_sql.Built:
    return kept_sql.Built(*chain_head_read_sql(chain_key))


def chain_head_read_sql(chain_key: str) -> tuple[str, list[Any]]:
    """`head_read_sql` of the chain `chain_key`."""
    heads = AuditChainHead.objects.filter(chain_key=chain_key).order_by()
    sql, params = heads.values_list("seq", "hash").query.sql_with_params()
    return sql, list(params)


def guess_head(tenant_id: int | None, seq: int | None, hash_: str | None) -> None:
    """Take the head as `head_read_sql` read it (None: the chain has none yet) as this
    process's guess of where the chain ends. Only a guess, as a remembered head is: the
    append's conditional UPDATE matches only the chain's real end, else it goes the locked
    way (`_append`), so a stale read costs a statement, never a fork."""
    if seq is not None and hash_ is not None:
        _known_heads[_known_key(chain_key_for(tenant_id))] = (seq, hash_)


def _known_key(chain_key: str) -> tuple[str, str]:
    return str(database().settings_dict["NAME"]), chain_key


def _remember(head: AuditChainHead) -> None:
    # At once, not on commit: a guess that never committed (a rollback) only misses, and
    # another thread's append on it waits for this transaction's row lock, then re-checks.
    _known_heads[_known_key(head.chain_key)] = (head.seq, head.hash)


def forget_known_heads() -> None:
    """The next append of every chain reads its head under lock, as a fresh process does."""
    _known_heads.clear()


def _stamp(chain: list[AuditEvent]) -> None:
    # Stamped under the lock (or, on the known head, before the conditional UPDATE that
    # matches only if nobody appended since this process did), so seq order and time order
    # agree within a chain.
    for event in chain:
        event.timestamp = timezone.now()


def _append_on(
    known: tuple[int, str], chain: list[AuditEvent], riding: Riding | None = None
) -> tuple[bool, AuditChainHead | None]:
    """Append `chain` after the head this process last saw, if the chain still ends there.

    Returns whether it did and, when not, the head locked by the same statement on
    PostgreSQL (None on SQLite, or when the head is gone). `riding` (PostgreSQL) is sent by
    that statement either way."""
    seq, hash_ = known
    head = new_row(
        AuditChainHead,
        chain_key=chain[0].chain_key,
        tenant_id=chain[0].tenant_id,
        seq=seq,
        hash=hash_,
    )
    _stamp(chain)
    seal_after(head, chain)
    if connection.vendor == "postgresql":
        appended, locked = _insert_if_head_is(chain, head, known, riding)
    else:
        appended, locked = _advance_if_head_is(head, known), None
        if appended:
            AuditEvent.objects.bulk_create(chain)
    if appended:
        _remember(head)
    return appended, locked


def _advanced_values(head: AuditChainHead) -> dict[str, Any]:
    # pre_save, as save() would: it stamps updated_at
    return {
        name: head._meta.get_field(name).pre_save(head, add=False) for name in head.ADVANCED_FIELDS
    }


def _advance_if_head_is(head: AuditChainHead, known: tuple[int, str]) -> bool:
    seq, hash_ = known
    unchanged = AuditChainHead.objects.filter(pk=head.pk, seq=seq, hash=hash_)
    return unchanged.update(**_advanced_values(head)) == 1


def _insert_if_head_is(
    events: list[AuditEvent],
    head: AuditChainHead,
    known: tuple[int, str],
    riding: Riding | None = None,
) -> tuple[bool, AuditChainHead | None]:
    """PostgreSQL, one statement: advance the head if it is still at `known`, insert `events`
    only if it was, and otherwise lock and return the head as it is.

    The UPDATE is the fence: under READ COMMITTED it waits for a concurrent appender's
    commit and re-checks its WHERE on the row that appender left, so it matches only the
    chain's real end. The events' INSERT reads its RETURNING; the locked read runs only when
    it returned nothing (its `NOT EXISTS` waits for the UPDATE), so the caller appends
    under that lock as it would have after `_lock_head`.

    `riding`'s writes go in front; the head's UPDATE reads their last one's rows (a
    condition always true, evaluated before the head's row is scanned), so they have run,
    and locked what they lock, before the head is locked."""
    seq, hash_ = known
    db = database()
    advanced = _advanced_values(head)
    where = {"pk": head.pk, "seq": seq, "hash": hash_}
    update_sql, update_params = _head_update_sql(advanced, where)
    insert_sql, insert_params = _insert_sql(events, "WHERE EXISTS (SELECT FROM advanced_head)")
    front, front_params, after, columns, column_params = "", [], "", "", []
    if riding is not None:
        front, front_params = f"{riding.ctes}, ", riding.params
        after = f" AND (SELECT count(*) FROM {riding.last}) >= 0"  # noqa: S608 (a CTE's name)
        columns, column_params = f", {riding.select}", riding.select_params
    with db.cursor() as cursor:
        cursor.execute(  # the pieces built by Django's compilers; values are parameters
            f"WITH {front}advanced_head AS ({update_sql}{after} RETURNING 1), "  # noqa: S608
            f"appended AS ({insert_sql}), "
            f"locked_head AS ({_locked_if_missed_sql()}) "
            f"SELECT (SELECT array_agg(id ORDER BY seq) FROM appended){columns}, locked_head.* "
            "FROM (VALUES (1)) AS one LEFT JOIN locked_head ON TRUE",
            (*front_params, *update_params, *insert_params, head.pk, *column_params),
        )
        ids, *head_values = cursor.fetchone()
    if riding is not None:
        riding.answer = tuple(head_values[: riding.width])
        head_values = head_values[riding.width :]
    if ids:
        _saved(events, ids)
        return True, None
    if head_values[0] is None:
        return False, None
    names = [field.attname for field in AuditChainHead._meta.concrete_fields]
    return False, AuditChainHead.from_db(db.alias, names, head_values)


# An append's statements have the same shape every time: their SQL is compiled by Django
# once per database (the first append) and kept; each append sends its own values. What is
# kept is checked when it is made: the compiled parameters must be exactly the values in the
# order this module sends them, else the text is not kept and every append compiles its own.
_shapes: dict[tuple[str, str], str | None] = {}


def _shaped(name: str, params: list[Any], compile_: Any) -> tuple[str, list[Any]]:
    key = (database().alias, name)
    sql = _shapes.get(key)
    if sql is not None:
        return sql, params
    sql, compiled = compile_()
    _shapes[key] = sql if list(compiled) == params else None
    return sql, list(compiled)


def _head_update_sql(advanced: dict[str, Any], where: dict[str, Any]) -> tuple[str, list[Any]]:
    """`UPDATE` of the head's advanced columns where `where` (field: value) holds."""
    meta = AuditChainHead._meta
    db = database()
    params = [meta.get_field(n).get_db_prep_save(v, db) for n, v in advanced.items()]
    # Q sorts its keyword arguments: the WHERE's parameters come in the names' order.
    params += [
        (meta.pk if n == "pk" else meta.get_field(n)).get_db_prep_value(
            where[n], db, prepared=False
        )
        for n in sorted(where)
    ]

    def compile_() -> tuple[str, tuple]:
        update = UpdateQuery(AuditChainHead)
        update.add_update_values(advanced)
        update.add_q(models.Q(**where))
        return update.get_compiler(connection=db).as_sql()

    return _shaped("head_update:" + ",".join([*advanced, *sorted(where)]), params, compile_)


def _locked_if_missed_sql() -> str:
    """The head locked and read, only when `advanced_head` updated nothing: one parameter,
    the head's key."""
    alias = database().alias
    sql = _shapes.get((alias, "locked_if_missed"))
    if sql is None:
        missed = RawSQL(
            "NOT EXISTS (SELECT FROM advanced_head)", (), output_field=models.BooleanField()
        )
        locked = AuditChainHead.objects.select_for_update().filter(missed, pk="%key%")
        sql, params = locked.query.sql_with_params()
        if tuple(params) != ("%key%",):
            raise AssertionError(f"the locked read of an audit chain head took {params!r}")
        _shapes[(alias, "locked_if_missed")] = sql
    return sql


def _insert_sql(events: list[AuditEvent], condition: str) -> tuple[str, list[Any]]:
    """`INSERT INTO … SELECT * FROM UNNEST(…) <condition> RETURNING id, seq` for `events`
    (`portal.bulk_rows.insert_sql`: the columns read from the model once per database)."""
    return insert_sql(AuditEvent, events, condition, returning=("id", "seq"))


def _saved(events: list[AuditEvent], ids: list[int]) -> None:
    saved(events, ids)  # as bulk_create leaves them: saved, with their ids


def _insert_advancing_head(events: list[AuditEvent], head: AuditChainHead) -> None:
    """Insert `events` and save the advanced `head` in one statement (PostgreSQL): the head's
    UPDATE rides in a data-modifying CTE in front of the events' INSERT.

    The locked read cannot join them: the new hashes are HMACs over the old head, made in
    Python between the two (`_insert_if_head_is` does without it when the head is known).
    Both statements are built by Django's compilers, so their columns follow the models.
    The caller holds the head's row lock, so the UPDATE finds its row."""
    update_sql, update_params = _head_update_sql(_advanced_values(head), {"pk": head.pk})
    insert_sql, insert_params = _insert_sql(events, "")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH advanced_head AS ({update_sql}) {insert_sql}", (*update_params, *insert_params)
        )
        returned = cursor.fetchall()
    _saved(events, [pk for pk, _ in sorted(returned, key=lambda row: row[1])])  # by seq


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
    kind = type(value)
    if kind is str:  # most values: past the Mapping check, an ABC's (the slow isinstance)
        return REDACTED if _FERNET_TOKEN.match(value) else value
    if value is None or kind is int or kind is bool:
        return value
    if isinstance(value, Mapping):
        return {str(k): _scrub_item(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str) and _FERNET_TOKEN.match(value):
        return REDACTED
    return value


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    # Kept per key: an event's keys are the same few dozen names, each a regex split and
    # two scans (bounded, so that keys a caller invents cannot grow it without end).
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
    if actor == ActorKind.SYSTEM:
        kind = ActorKind.SYSTEM
        return {"actor_kind": kind, "actor_username": kind.value, "actor_display": system_display()}
    if actor == ActorKind.WEBHOOK:
        kind = ActorKind.WEBHOOK
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
