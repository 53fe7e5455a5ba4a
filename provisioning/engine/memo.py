"""What one run of a job reads more than once and what does not change under it: the
tenant's connections and settings, and the person's templates and grants for the
desired-state version the run planned (every change to those raises the version: jobs.ask).

A run plans, applies and reads again within seconds; its second read of the desired state
then costs one statement (the person, for their version) instead of six. A bulk file's dry
run is one run too (its rows share the tenant's mappings and settings). Outside a run
(other previews, pages) nothing is remembered.

Across runs, in the worker's process: the tenant's connections, role templates and attribute
mappings (`across_runs`), by the `Tenant.config_version` the run's claim read with the job.
Database triggers give that a new value whenever one of those rows (or the tenant's) is
written, whatever writes it (tenants/migrations/0012), so a run uses the rows kept only when
nothing changed since they were read. They are kept as values (a connection's secret as its
ciphertext, as the database holds it; nothing here is logged) and each run gets instances of
its own."""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

T = TypeVar("T")

_reads: ContextVar[dict | None] = ContextVar("engine_run_reads", default=None)
# Features' one-row settings of a tenant (reverse one-to-ones of Tenant, by accessor name),
# read with the job a run claims (serial.claim), registered from above: `read_with_tenant`.
_tenant_rows: list[str] = []
# (database alias, tenant id, name) -> (config_version, [(model, attnames, values, the
# indexes of values a run could change in place), ...])
_configs: dict[tuple, tuple] = {}
CONFIGS_KEPT = 2000  # entries (a tenant has three): past it, the oldest go first


@contextmanager
def one_run() -> Iterator[None]:
    token = _reads.set({})
    try:
        yield
    finally:
        _reads.reset(token)


def remembered(key: Hashable, read: Callable[[], T]) -> T:
    """`read()`, once per run for `key`; every time outside a run."""
    reads = _reads.get()
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return reads[key]


def keep(key: Hashable, value: object) -> None:
    """Hand `value` to a later step of this run (`take`); nothing outside a run."""
    reads = _reads.get()
    if reads is not None:
        reads[key] = value


def take(key: Hashable):
    """What `keep` handed over for `key`, once; None when nothing was (or outside a run)."""
    reads = _reads.get()
    return None if reads is None else reads.pop(key, None)


def read_with_tenant(name: str) -> None:
    """A feature's one-row setting of the tenant (`Tenant.<name>`, a reverse one-to-one) is
    joined to the read of the job a run claims, instead of being a statement of its own in
    the run; `tenant_row` answers from it. The engine names no feature's table."""
    if name not in _tenant_rows:
        _tenant_rows.append(name)


def registered_tenant_rows() -> list[str]:
    """The accessor names of the registered rows (`read_with_tenant`)."""
    return list(_tenant_rows)


def tenant_relations() -> list[str]:
    """What the claim's read of the job joins (`select_related`) for the registered rows."""
    return [f"tenant__{name}" for name in _tenant_rows]


def keep_tenant_rows(tenant) -> None:
    """The registered rows as the claim read them with `tenant` (None where it has none)."""
    for name in _tenant_rows:
        # No query: select_related cached the row, or None (which raises AttributeError).
        keep(("tenant_row", name, tenant.pk), (getattr(tenant, name, None),))


def tenant_row(name: str, tenant_id: int, read: Callable[[], T]) -> T:
    """The tenant's `name` row: in a run, as its claim read it (else `read()`, once);
    outside a run, `read()`."""
    return remembered(("tenant_row", name, tenant_id), lambda: (read(),))[0]


def config_read_with(tenant) -> None:
    """The claim read `tenant` (its `config_version`) with the job: this run may use the
    rows `across_runs` kept for that version."""
    keep(("config_version", tenant.pk), tenant.config_version)


def across_runs(tenant_id: int, name: str, read: Callable[[], list[Model]]) -> list[Model]:
    """`read()`'s rows (the tenant's `name` configuration), kept across runs for the tenant's
    `config_version` as this run's claim read it: fresh instances from the rows kept for that
    version, else `read()` (kept for it). Without a version read (outside a run, or a run
    that claimed no job) `read()`. Rows read after the version was: a change committed in
    between gave the tenant a newer version, so the rows are never kept for a version older
    than themselves."""
    reads = _reads.get()
    version = None if reads is None else reads.get(("config_version", tenant_id))
    if version is None:
        return read()
    key = (DEFAULT_DB_ALIAS, tenant_id, name)  # `db`'s alias, without a look-up per read
    kept = _configs.get(key)
    if kept is not None and kept[0] == version:
        return [_fresh(*row) for row in kept[1]]
    rows = read()
    _configs.pop(key, None)
    while len(_configs) >= CONFIGS_KEPT:
        _configs.pop(next(iter(_configs)))
    _configs[key] = (version, [_as_values(row) for row in rows])
    return rows


def _as_values(row: Model) -> tuple:
    fields = row._meta.concrete_fields
    values = tuple(copy.deepcopy(getattr(row, f.attname)) for f in fields)
    mutable = tuple(i for i, value in enumerate(values) if type(value) not in _IMMUTABLE)
    return type(row), tuple(f.attname for f in fields), values, mutable


# A value no run can change in place: handed out as it is. The rest (a JSON field's lists
# and dicts) are copied for each run, not every column (about 30 `deepcopy` calls a row).
_IMMUTABLE = frozenset({type(None), bool, int, float, str, bytes, Decimal, UUID, datetime, date})


def _fresh(model: type[Model], attnames: tuple, values: tuple, mutable: tuple) -> Model:
    if mutable:
        values = list(values)
        for index in mutable:
            values[index] = copy.deepcopy(values[index])
    return model.from_db(DEFAULT_DB_ALIAS, attnames, values)
