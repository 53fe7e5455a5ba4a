"""A statement built by Django's compilers the same way each time, kept per shape: its SQL
text and where each of its values goes in the parameters, so a hot path sends it again with
new values without building and compiling the querysets behind it (a claim's is some twenty
ORM calls and a few milliseconds of CPU; the text never changes).

`kept(shape, build, *values)`: `build(*values)` returns a `Built` (the SQL, its parameters,
and anything made with it that does not depend on the values, such as the readers of its
columns). The first call for a shape builds three times: with the values, and twice with
stand-ins (two sets of distinct markers of each value's type). The shape is kept only when
the three texts are equal, each parameter is either a marker of one value in both stand-in
builds or the same constant in all three, and the kept parameters filled with the values
equal what the values' own build compiled. Anything else (a text that depends on a value, a
parameter the builder worked out from a value or from the clock, a value of a type with no
marker) and the shape is never kept: every call builds, as without this module.

What no check can see is a value the builder reads for itself that stays the same across
the three builds and changes later (a setting, today's date), or a value it takes apart in a
way the stand-ins do not show (a comma-separated list): a builder takes every value that can
change as an argument, each reaching the statement as it is, and the `shape` names whatever
else its text depends on."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from django.core.exceptions import FieldError
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model, Q, QuerySet
from django.db.models.query import ModelIterable

from portal import bulk_rows


@dataclass
class Built:
    sql: str
    params: list[Any]
    extra: Any = None  # made with the statement, the same for any values


@dataclass
class _Kept:
    sql: str
    # (True, a value's index, how the backend wraps it or None) or (False, a constant, None)
    slots: list[tuple[bool, Any, Hashable]]
    extra: Any


_kept: dict[tuple[str, Hashable], _Kept | None] = {}


def kept(shape: Hashable, build: Callable[..., Built], *values: Any) -> Built:
    """`build(*values)`, from the kept text of `shape` when it could be kept."""
    # `connection` is the default database's, whose alias needs no look-up of the thread's
    # connection (asgiref's `Local`, five calls each read of `connection`).
    key = (DEFAULT_DB_ALIAS, shape)
    if key in _kept:
        found = _kept[key]
        if found is None:
            return build(*values)
        return Built(found.sql, _filled(found.slots, values), found.extra)
    built = build(*values)
    _kept[key] = _keepable(build, values, built)
    return built


def forget() -> None:
    """Every shape built again on its next use (tests)."""
    _kept.clear()


def _keepable(build: Callable[..., Built], values: tuple, built: Built) -> _Kept | None:
    stand_ins = [_markers(values, n) for n in (1, 2)]
    if None in stand_ins:
        return None
    try:
        first, second = (build(*markers) for markers in stand_ins)
    except (FieldError, TypeError, ValueError):  # a value that names a column, say
        return None
    if not (first.sql == second.sql == built.sql):
        return None
    if not (len(first.params) == len(second.params) == len(built.params)):
        return None
    slots = []
    for one, two, real in zip(first.params, second.params, built.params, strict=True):
        index, wrap = _index(one, stand_ins[0])
        if index is not None and (index, wrap) == _index(two, stand_ins[1]):
            slots.append((True, index, wrap))
        elif index is None and _index(two, stand_ins[1])[0] is None and _same(one, two, real):
            slots.append((False, real, None))
        else:
            return None
    if not same_params(_filled(slots, values), built.params):
        return None
    return _Kept(built.sql, slots, built.extra)


def _filled(slots: list[tuple[bool, Any, Hashable]], values: tuple) -> list[Any]:
    return [_wrapped(wrap, values[v]) if is_value else v for is_value, v, wrap in slots]


def _wrapped(wrap: Hashable, value: Any) -> Any:
    if wrap is None:
        return value
    if wrap[0] == "int":
        return wrap[1](value)
    return wrap[1](value, dumps=wrap[2])  # "json"


# Markers: of the value's type, distinct from each other and unlike what a caller sends.
# Integers stay within a 32-bit column's range (Django compiles an out-of-range lookup to
# no condition at all).
_INT_BASE = {1: 2_000_000_000, 2: 2_100_000_000}
_TIME_BASE = {
    1: datetime(2999, 1, 1, tzinfo=UTC),
    2: datetime(2998, 1, 1, tzinfo=UTC),
}


def _markers(values: tuple, n: int) -> list[Any] | None:
    made = []
    for index, value in enumerate(values):
        # Subclasses too (a choices enum): the filled parameters are checked against the
        # values' own build, which a builder that converts them would fail.
        if isinstance(value, int) and not isinstance(value, bool):
            made.append(_INT_BASE[n] + index)
        elif isinstance(value, str):
            made.append(f"kept-sql-marker-{n}-{index}")
        elif isinstance(value, datetime) and value.tzinfo is not None:
            made.append(_TIME_BASE[n] + timedelta(microseconds=index))
        elif type(value) is dict:  # a JSON field's value
            made.append({"kept-sql-marker": f"{n}-{index}"})
        elif type(value) is list:  # a JSON field's value
            made.append([f"kept-sql-marker-{n}-{index}"])
        elif type(value) is UUID:  # version 0: no uuid4 a caller makes
            made.append(UUID(int=(n << 64) | index))
        else:
            return None
    return made


def _index(param: Any, markers: list[Any]) -> tuple[int | None, Hashable]:
    """Which marker `param` is, and how the backend wrapped it, if it did: an integer
    field's value typed (psycopg's `Int8(value)`), a JSON field's as `Jsonb(value, dumps=)`
    (Django's PostgreSQL backend). The filled parameters are checked against the values'
    own build all the same."""
    for index, marker in enumerate(markers):
        if type(param) is type(marker) and param == marker:
            return index, None
        if (
            type(marker) is int
            and isinstance(param, int)
            and type(param) is not bool
            and param == marker
        ):
            return index, ("int", type(param))
        if type(marker) in (dict, list) and _is_json(param) and param.obj == marker:
            return index, ("json", type(param), param.dumps)
    return None, None


def _is_json(param: Any) -> bool:
    return hasattr(param, "obj") and hasattr(param, "dumps")


def _same(*params: Any) -> bool:
    first = params[0]
    if _is_json(first):  # a wrapper with no equality of its own
        return all(
            type(p) is type(first) and p.obj == first.obj and p.dumps is first.dumps
            for p in params[1:]
        )
    return all(type(p) is type(first) and p == first for p in params[1:])


def same_params(one: list[Any], two: list[Any]) -> bool:
    """The same parameters, of the same types (JSON wrappers by their value and encoder)."""
    return len(one) == len(two) and all(_same(a, b) for a, b in zip(one, two, strict=True))


def update(
    shape: Hashable,
    model: type[Model],
    where: Callable[..., Q],
    values: dict[str, Any],
    *where_values: Any,
) -> Built:
    """The UPDATE of `model`'s rows where `where(*where_values)` holds, setting `values`
    (field name: value), as Django's compiler writes it (`bulk_rows.update_sql`, as
    `QuerySet.update` builds it), kept per shape as `kept` keeps one. The shape adds the
    field names in their order, the values that are None or booleans (None is written into
    the text, a boolean has no stand-in: each is its own shape) and the others' types; a
    value no stand-in stands for (an expression, JSON) and every call builds, as without
    this module."""
    names = tuple(values)
    fixed = {n: v for n, v in values.items() if v is None or type(v) is bool}
    varying = [n for n in names if n not in fixed]
    key = (
        "update",
        model._meta.label,
        shape,
        names,
        tuple(fixed.items()),
        tuple(type(values[n]) for n in varying),
    )
    count = len(where_values)

    def build(*given: Any) -> Built:
        rest = iter(given[count:])
        sets = {n: fixed[n] if n in fixed else next(rest) for n in names}
        rows = model._base_manager.filter(where(*given[:count]))
        sql, params = bulk_rows.update_sql(rows, sets)
        return Built(sql, list(params))

    return kept(key, build, *where_values, *(values[n] for n in varying))


def instances(shape: Hashable, build: Callable[..., QuerySet], *values: Any) -> list[Model]:
    """The rows of the queryset `build(*values)` as its model's instances, made as Django's
    iterator makes them (the backend's and the fields' converters, then `from_db`), its
    statement kept per shape as `kept` keeps one. A plain queryset of one model: no
    `select_related`, annotations or values() (a `TypeError` says so)."""
    built = kept(shape, lambda *v: _model_statement(build(*v)), *values)
    model, attnames, converters = built.extra
    with bulk_rows.database().cursor() as cursor:
        cursor.execute(built.sql, built.params)
        rows = cursor.fetchall()
    if converters:
        rows = converted(rows, converters)
    return [model.from_db(DEFAULT_DB_ALIAS, attnames, row) for row in rows]


def rows(shape: Hashable, build: Callable[..., QuerySet], *values: Any) -> list[list[Any]]:
    """The rows of the `values_list` queryset `build(*values)`, each value converted as
    Django converts it (a time made aware on SQLite, JSON decoded), its statement kept per
    shape as `kept` keeps one."""
    built = kept(shape, lambda *v: values_statement_of(build(*v)), *values)
    with connection.cursor() as cursor:
        cursor.execute(built.sql, built.params)
        fetched = cursor.fetchall()
    return converted(fetched, built.extra) if built.extra else [list(r) for r in fetched]


def values_statement_of(queryset: QuerySet) -> Built:
    """The statement of a `values_list` queryset, with its columns' converters as `extra`
    (for `converted`), as `rows` sends and reads it."""
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([col for col, _, _ in compiler.select])
    return Built(sql, list(params), converters)


def first_of(queryset: QuerySet) -> QuerySet:
    """The queryset of `queryset.first()`'s one row, for `instances`."""
    return (queryset if queryset.ordered else queryset.order_by("pk"))[:1]


def _model_statement(queryset: QuerySet) -> Built:
    query = queryset.query
    if (
        query.select_related
        or query.annotation_select
        or query.extra_select
        or queryset._known_related_objects
        or queryset._iterable_class is not ModelIterable
    ):
        raise TypeError(f"not a plain queryset of {queryset.model.__name__}")
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    columns = [col for col, _, _ in compiler.select]
    attnames = [col.target.attname for col in columns]
    converters = compiler.get_converters(columns)
    return Built(sql, list(params), (queryset.model, attnames, converters))


def converted(rows: list[tuple], converters: dict) -> list[list[Any]]:
    """`rows` as Django's `apply_converters` makes them with `converters` (from
    `get_converters`, or `values_statement_of`'s `extra`)."""
    made = []
    for row in rows:
        row = list(row)
        for index, (functions, expression) in converters.items():
            for convert in functions:
                row[index] = convert(row[index], expression, connection)
        made.append(row)
    return made
