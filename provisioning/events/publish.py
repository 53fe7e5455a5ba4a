"""Emit an event; who hears of it registers from above.

`emit` writes the Event inside the caller's transaction, so an event exists exactly when
the change it tells of committed. After the commit, every subscriber is called with the
event (a task it enqueues reads the row by id): outbound webhooks and alert e-mails
subscribe when their app is ready and only enqueue work there, so a slow receiver never
holds the change that caused it.

A subscriber that hears only where rows of its own say so (outbound: the endpoints of the
tenant and the MSP's) names them as a queryset (`hears`); the event's INSERT asks whether
any exists, in the same statement (`RETURNING EXISTS (...)`), and a subscriber whose rows
are none is not called: its read after the commit would find nothing. Nothing is kept
between events, so no flag or cache can go stale (a queryset update that switches an
endpoint on is seen by the next event's INSERT). What an event reaches is what existed when
it was written: an endpoint committed after the INSERT (within the few statements before
the commit) does not hear it, as one made after the commit does not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.sql import InsertQuery

from portal import bulk_rows, kept_sql
from portal.audit.events import Riding
from provisioning.events.models import Event
from tenants.models import Tenant

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]
# The rows that would hear an event of this kind and tenant (id), or None: it hears them all.
Hears = Callable[[str, int | None], QuerySet | None]
_subscribers: list[tuple[Subscriber, Hears | None]] = []


def subscribe(callback: Subscriber, *, hears: Hears | None = None) -> Subscriber:
    """Call `callback(event)` after the commit of every emitted event; with `hears`, only
    when the queryset it returns for the event had a row when the event was written."""
    if callback not in [known for known, _ in _subscribers]:
        _subscribers.append((callback, hears))
    return callback


def emit(kind: str, *, tenant: Tenant | None, data: dict) -> Event:
    if kind not in Event.Kind.values:
        raise ValueError(f"Unknown event kind {kind!r}")
    event = Event(kind=kind, tenant=tenant, data=data)
    held = _held.get()
    if held is not None and (built := _insert_built(event)) is not None:
        held.append((event, built))  # its INSERT rides in the holder's statement (`Held`)
        return event
    # No savepoint: inside the change's transaction an event that cannot be written fails
    # the change with it, and every job's end would pay two more statements for one.
    with transaction.atomic(savepoint=False):
        told = _inserted(event)
        transaction.on_commit(lambda: _tell(event, told))
    return event


class Held:
    """The events emitted within `held()`, whose INSERTs ride in a write of the caller's
    transaction (PostgreSQL, where the INSERT asks its subscribers' `hears`): `riding()`
    hands them over as data-modifying `WITH`s of the audit append that ends the change
    (`events.Riding`); once sent, `ridden()` tells each the subscribers its INSERT answered
    for, after the commit, as `emit` does. An event written so exists exactly when the change
    it tells of commits, as one written on its own."""

    def __init__(self) -> None:
        self._events: list[tuple[Event, kept_sql.Built]] = []
        self._riding: Riding | None = None

    def append(self, held: tuple[Event, kept_sql.Built]) -> None:
        self._events.append(held)

    def riding(self) -> Riding | None:
        if not self._events:
            return None
        ctes, params, columns = [], [], []
        for n, (_, built) in enumerate(self._events):
            ctes.append(f"held_event_{n} AS ({built.sql})")
            params.extend(built.params)
            asked = range(len(built.extra))
            columns += [f"(SELECT heard_{i} FROM held_event_{n})" for i in asked]  # noqa: S608
        self._riding = Riding(
            ctes=", ".join(ctes),
            params=params,
            last=f"held_event_{len(self._events) - 1}",
            select=", ".join(columns),
            select_params=[],
            width=len(columns),
        )
        return self._riding

    def ridden(self) -> None:
        """After the statement the `riding()` went in: each event saved, its subscribers
        told after the commit."""
        # No answer (never sent): every subscriber told, its own read decides, as elsewhere.
        answers = iter((self._riding and self._riding.answer) or ())
        alias = bulk_rows.database().alias
        for event, built in self._events:
            heard = dict(zip(built.extra, answers, strict=False))
            event._state.adding, event._state.db = False, alias
            told = [s for s, _ in _subscribers if heard.get(s, True)]
            transaction.on_commit(lambda event=event, told=told: _tell(event, told))
        self._events = []


_held: ContextVar[Held | None] = ContextVar("events_held", default=None)


@contextmanager
def held() -> Iterator[Held]:
    """Events emitted within go with the caller's statement (`Held`) where they can (an
    INSERT that asks its subscribers, on PostgreSQL); the rest are written as they come.
    The caller sends `riding()` before its transaction ends and calls `ridden()` after."""
    holder = Held()
    token = _held.set(holder)
    try:
        yield holder
    finally:
        _held.reset(token)


def _inserted(event: Event) -> list[Subscriber]:
    """INSERT the event; the subscribers to tell of it. Where the database returns values
    from an INSERT (PostgreSQL, SQLite 3.35+) the subscribers' `hears` are asked in it;
    elsewhere every subscriber is told, as before (its own read decides). The statement's
    text is kept per shape (portal/kept_sql.py: the subscribers, the event's kind, whether it
    has a tenant), so a `hears` may answer None by the kind and by whether there is a tenant,
    not by which tenant; what its rows say is read afresh by every INSERT."""
    db = bulk_rows.database()  # looked up once, not at each of `connection`'s reads
    built = _insert_built(event, returning=db.features.can_return_columns_from_insert)
    if built is None:
        event.save(force_insert=True)
        return [s for s, _ in _subscribers]
    with db.cursor() as cursor:
        cursor.execute(built.sql, built.params)
        answers = dict(zip(built.extra, cursor.fetchone(), strict=True))
    event._state.adding, event._state.db = False, db.alias
    return [s for s, _ in _subscribers if answers.get(s, True)]


def _insert_built(event: Event, *, returning: bool | None = None) -> kept_sql.Built | None:
    """The event's INSERT asking its subscribers' `hears` (None: it asks none, or the
    database cannot; `returning` None: only where an INSERT can ride in a `WITH`)."""
    listening = tuple((s, hears) for s, hears in _subscribers if hears)
    if returning is None:
        returning = bulk_rows.database().vendor == "postgresql"
    if not returning or not listening:
        return None
    has_tenant = event.tenant_id is not None
    values = (event.pk, event.occurred_at, event.data)
    built = kept_sql.kept(
        ("event inserted", listening, event.kind, has_tenant),
        _insert_asking(listening, event.kind),
        *values,
        *((event.tenant_id,) if has_tenant else ()),
    )
    return built if built.extra else None


def _insert_asking(listening: tuple, kind: str):
    """The builder of an event's INSERT asking the `hears` of `listening` in its RETURNING;
    its `extra`, the subscribers asked (a `hears` that answered None is not)."""

    def build(pk, occurred_at, data, tenant_id=None) -> kept_sql.Built:
        event = Event(pk=pk, kind=kind, tenant_id=tenant_id, occurred_at=occurred_at, data=data)
        probes = [(s, hears(kind, tenant_id)) for s, hears in listening]
        asked = [(s, qs) for s, qs in probes if qs is not None]
        query = InsertQuery(Event)
        query.insert_values(Event._meta.concrete_fields, [event])
        [(sql, params)] = query.get_compiler(connection=connection).as_sql()
        exists, exists_params = [], []
        for _, queryset in asked:
            sub_sql, sub_params = queryset.values("pk")[:1].query.sql_with_params()
            exists.append(f"EXISTS ({sub_sql}) AS heard_{len(exists)}")
            exists_params.extend(sub_params)
        return kept_sql.Built(
            f"{sql} RETURNING {', '.join(exists)}",
            [*params, *exists_params],
            [s for s, _ in asked],
        )

    return build


def _tell(event: Event, told: list[Subscriber]) -> None:
    for callback in told:
        try:
            callback(event)
        except Exception:  # one subscriber's broken queue must not silence the others
            log.exception("Subscriber %r failed for event %s", callback, event.pk)
