"""What one run of a job reads more than once and what does not change under it: the
tenant's connections and settings, and the person's templates and grants for the
desired-state version the run planned (every change to those raises the version: jobs.ask).

A run plans, applies and reads again within seconds; its second read of the desired state
then costs one statement (the person, for their version) instead of six. A bulk file's dry
run is one run too (its rows share the tenant's mappings and settings). Outside a run
(other previews, pages) nothing is remembered."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_reads: ContextVar[dict | None] = ContextVar("engine_run_reads", default=None)
# Features' one-row settings of a tenant (reverse one-to-ones of Tenant, by accessor name),
# read with the job a run claims (serial.claim), registered from above: `read_with_tenant`.
_tenant_rows: list[str] = []


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
