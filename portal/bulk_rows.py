"""Setting fields of many rows in one statement, for the places that write a batch at once;
and inserting many rows in a statement that a condition can follow (`insert_sql`).

Django's `bulk_update` builds a CASE expression per row and field and compiles it each time:
about 10 ms of CPU for a `$batch` of seven steps' eight outcome fields, seconds for ten
thousand rows. `set_many` sends `UPDATE ... FROM (VALUES ...)` instead (PostgreSQL, and
SQLite since 3.33).
`new_row` builds a row about to be written as `model(**values)` would, by position."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.sql import UpdateQuery

BATCH = 500  # rows per statement (fewer where SQLite caps the parameters)


def database():
    """The thread's connection to the default database, `django.db.connection`'s target,
    for a function that reads it many times: every attribute of `connection` looks the
    thread's connection up again (asgiref's `Local`, five Python calls), and so does every
    Django call it is handed to (`get_db_prep_save`, a compiler). Not kept past the call."""
    return connections[DEFAULT_DB_ALIAS]


def set_many(
    model, fields: list[str], rows: list[tuple], *, where: tuple[str, list] | None = None
) -> int:
    """Set `fields` of many rows of `model`, each row given as (pk, *values); the number of
    rows set. `where`: (an SQL condition on the table's columns, its parameters) that a row
    must also meet to be set."""
    size = rows_per_statement(model, fields)
    done = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            cursor.execute(*set_many_sql(model, fields, rows[start : start + size], where=where))
            done += cursor.rowcount
    return done


def rows_per_statement(model, fields: list[str]) -> int:
    """How many rows one `set_many_sql` statement may carry (SQLite caps the parameters)."""
    columns = 1 + len(fields)
    limit = connection.features.max_query_params or BATCH * columns
    return max(1, min(BATCH, limit // columns))


def set_many_sql(
    model, fields: list[str], rows: list[tuple], *, where: tuple[str, list] | None = None
) -> tuple[str, list[Any]]:
    """`set_many`'s statement for `rows` (at most `rows_per_statement`), and its parameters:
    for a caller that sends it with more (a data-modifying `WITH`)."""
    meta = model._meta
    db = database()
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = db.ops.quote_name
    # PostgreSQL types a VALUES list from its rows, and a parameter alone has no type.
    cast = db.vendor == "postgresql"
    slot = "({})".format(
        ", ".join(f"CAST(%s AS {f.db_type(db)})" if cast else "%s" for f in columns)
    )
    table = quote(meta.db_table)
    assignments = ", ".join(
        f"{quote(f.column)} = v.column{n}" for n, f in enumerate(columns[1:], start=2)
    )
    condition, condition_params = where or ("", [])
    extra = f" AND ({condition})" if condition else ""
    params = [
        f.get_db_prep_save(value, db) for row in rows for f, value in zip(columns, row, strict=True)
    ]
    sql = (
        f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([slot] * len(rows))})"  # noqa: S608
        f" AS v WHERE {table}.{quote(meta.pk.column)} = v.column1{extra}"
    )
    return sql, params + list(condition_params)


_insert_shapes: dict[tuple[str, str], tuple[list[models.Field], str]] = {}


def update_sql(queryset: models.QuerySet, values: dict) -> tuple[str, tuple]:
    """`queryset.update(**values)` as Django's compiler writes it: the SQL and its
    parameters, to send as part of a larger statement or keep (portal/kept_sql.py)."""
    update = queryset.query.chain(UpdateQuery)
    update.add_update_values(values)
    return update.get_compiler(connection=database()).as_sql()


def insert_sql(
    model, objs: list[models.Model], condition: str = "", returning: tuple[str, ...] = ("id",)
) -> tuple[str, list[Any]]:
    """PostgreSQL: `INSERT INTO … SELECT * FROM UNNEST(…) <condition> RETURNING <returning>`
    for `objs`, every concrete field but the primary key: one typed array per column, as
    Django's own bulk insert builds them (`InsertUnnest`), so that a condition can follow
    (`WHERE EXISTS (SELECT FROM a_cte_in_front)`). The columns and their types are read from
    the model once per database; each value is prepared as Django's insert compiler prepares
    it (`pre_save`, then `get_db_prep_save`). RETURNING's order is not the arrays': return a
    column that tells the rows apart."""
    db = database()
    key = (db.alias, model._meta.label)
    shape = _insert_shapes.get(key)
    if shape is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        quote = db.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        arrays = ", ".join(f"(%s)::{f.db_type(db).split('(')[0]}[]" for f in fields)
        table = quote(model._meta.db_table)
        head = f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays})"  # noqa: S608
        shape = _insert_shapes[key] = (fields, head)
    fields, head = shape
    rows = [[prepared(model, f, obj, db) for f in fields] for obj in objs]
    quote = db.ops.quote_name
    sql = f"{head} {condition} RETURNING {', '.join(quote(c) for c in returning)}"
    return sql, [Column(column) for column in zip(*rows, strict=True)]


class Column(list):
    """One column of `insert_sql`'s values: a list, dumped by psycopg as it dumps a list
    (the same bytes and type), its elements' quotes and backslashes escaped by
    `bytes.replace` where psycopg's `ListDumper` calls `re.sub` with a template (Python's
    `expand_template` per match: an audit event's JSON is all quotes); and its dumper's
    key read off its elements' types where psycopg's key is their type (`ColumnDumper`'s
    `get_key`)."""


def _column_dumper():  # noqa: ANN202 - psycopg's own types
    from uuid import UUID

    from psycopg.types.array import ListDumper
    from psycopg.types.json import Json, Jsonb
    from psycopg.types.numeric import Int2, Int4, Int8

    # Element types whose psycopg dumper's key is the type itself, whatever the value (not
    # a plain int, keyed by its size; nor a time or datetime, keyed by its time zone).
    keyed_by_type = frozenset({str, bool, UUID, Json, Jsonb, Int2, Int4, Int8})
    null = frozenset({type(None)})

    class ColumnDumper(ListDumper):
        def get_key(self, obj, format):  # noqa: ANN001, ANN202
            # psycopg's key for a list is (the list's class, the key of its last non-null
            # element's dumper), found by `_find_list_element` and a dumper look-up, about
            # a dozen calls a column. For a column of one type keyed by itself, it is
            # (class, type); a column of aware datetimes, the same (a naive one's element
            # key is (datetime,)). Mixed types, ints, lists: psycopg's way.
            kinds = set(map(type, obj)) - null
            if not kinds:  # empty or NULLs only: no element type
                return self.cls
            if len(kinds) == 1:
                (kind,) = kinds
                if kind in keyed_by_type or issubclass(kind, str):  # str: a choice's enum too
                    return (self.cls, kind)
                if kind is datetime:
                    naive = {v.tzinfo is None for v in obj if v is not None}
                    if naive == {False}:
                        return (self.cls, kind)
            return super().get_key(obj, format)

        # psycopg's `_dump_list` but for the escape (its `_re_esc`: a backslash before
        # each double quote and backslash, what the two replaces do, backslashes first).
        def _dump_list(self, obj, tokens, needs_quotes) -> None:  # noqa: ANN001
            if not obj:
                tokens.append(b"{}")
                return
            dump = self.sub_dumper.dump if self.sub_dumper else self._dump_item
            delimiter = self.delimiter
            tokens.append(b"{")
            for item in obj:
                if item is None:
                    tokens.append(b"NULL")
                elif isinstance(item, list):
                    self._dump_list(item, tokens, needs_quotes)
                elif (ad := dump(item)) is None:
                    tokens.append(b"NULL")
                else:
                    if needs_quotes(ad):
                        ad = bytes(ad).replace(b"\\", b"\\\\").replace(b'"', b'\\"')
                        ad = b'"' + ad + b'"'
                    tokens.append(ad)
                tokens.append(delimiter)
            tokens[-1] = b"}"

    return ColumnDumper


try:
    import psycopg
except ImportError:  # SQLite only: no psycopg, and no arrays to send
    pass
else:
    psycopg.adapters.register_dumper(Column, _column_dumper())


# Fields whose preparation leaves a `str` as it is, a subclass too (`to_python` of a str,
# no lazy text): most of a row's values, skipped past Django's four calls per value.
_TEXT = (models.CharField, models.TextField)
# Exactly these classes (a subclass may prepare its own way), whose `pre_save` is the
# attribute's value (a DateTimeField's too, unless auto_now or auto_now_add) and whose
# preparation of None is None: a null skips Django's six calls.
_NONE_AS_NULL = frozenset(
    {
        *_TEXT,
        models.IntegerField,
        models.BigIntegerField,
        models.SmallIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.PositiveSmallIntegerField,
        models.BooleanField,
        models.DateTimeField,
    }
)
_INTEGERS = _NONE_AS_NULL - {*_TEXT, models.BooleanField, models.DateTimeField}


def prepared(model, field: models.Field, obj: models.Model, db=connection) -> Any:
    """`obj`'s value of `field` as Django's insert compiler prepares it (`pre_save`, then
    `get_db_prep_save`), the usual values without the generic calls."""
    kind = type(field)
    if kind in _NONE_AS_NULL and not (
        kind is models.DateTimeField and (field.auto_now or field.auto_now_add)
    ):
        value = getattr(obj, field.attname)
        kind_of_value = type(value)
        if value is None:
            return None
        if kind in _TEXT and isinstance(value, str):  # a choice's enum too: kept as it is
            return value
        if kind_of_value is int and kind in _INTEGERS:  # int(value) is value, then the backend's
            return db.ops.adapt_integerfield_value(value, field.get_internal_type())
        if kind_of_value is datetime and kind is models.DateTimeField and value.tzinfo:
            return db.ops.adapt_datetimefield_value(value)  # aware: as it is, then
    elif kind is models.JSONField and type(value := getattr(obj, field.attname)) in (dict, list):
        # An event's states, a step's params and result: the backend's JSON as Django's
        # `get_db_prep_save` ends in it, without its five calls before.
        return db.ops.adapt_json_value(value, field.encoder)
    value = field.pre_save(obj, add=True)
    if hasattr(value, "resolve_expression"):
        # A database default, say: no place in a typed array. Not for this statement.
        raise ValueError(f"{model._meta.label}.{field.name}: an expression, not a value")
    return field.get_db_prep_save(value, db)


class _RowShape:
    """How `new_row` builds rows of a model from one set of names: the positional values
    with every constant default in place, where each given value goes, which fields' defaults
    are made per row (a callable default, a database default), and which related objects are
    set through their descriptor."""

    def __init__(self, model, names: tuple[str, ...]) -> None:
        by_name = {}
        for position, field in enumerate(model._meta.concrete_fields):
            by_name[field.attname] = (position, field, False)
            if field.is_relation and field.name != field.attname:
                by_name[field.name] = (position, field, True)
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise TypeError(f"{model.__name__}() got unexpected keyword arguments: {unknown}")
        given = {by_name[name][0]: (name, by_name[name][2]) for name in names}
        if len(given) < len(names):
            raise TypeError(f"{model.__name__}(): a field given twice in {names}")
        self.args: list[Any] = []
        self.placed: list[tuple[int, str]] = []
        self.made: list[tuple[int, Any]] = []
        self.related = [name for name, is_object in given.values() if is_object]
        for position, field in enumerate(model._meta.concrete_fields):
            name, is_object = given.get(position, (None, False))
            if name is not None and not is_object:
                self.args.append(None)
                self.placed.append((position, name))
            elif is_object or field.generated:  # set below; a generated one left unset
                self.args.append(models.DEFERRED)
            elif _default_is_constant(field):
                self.args.append(field.get_default())
            else:
                self.args.append(None)
                self.made.append((position, field.get_default))


def _default_is_constant(field: models.Field) -> bool:
    """Whether `get_default` returns the same value at every call: a default that is not a
    callable (Django returns that very object), or no default at all (None or '', not a
    database default's expression, which is made anew)."""
    if field.has_default():
        return not callable(field.default)
    return field.db_default is models.NOT_PROVIDED


_row_shapes: dict[tuple[type[models.Model], tuple[str, ...]], _RowShape] = {}
Row = TypeVar("Row", bound=models.Model)


def new_row(model: type[Row], **values: Any) -> Row:
    """`model(**values)` for a row about to be written: the same instance (each field not
    given its default, made per row where Django makes it per row; a related object given by
    its field's name set through the field's descriptor, which keeps it), built by position
    as Django builds a row it read (`from_db`). Django's keyword path pops every field from
    the keywords and asks each one not given for its default, about twice the CPU (an audit
    event: 21 µs by keywords, 10 this way). Fields only, by name or attname: anything else is
    a TypeError, as Django's is for a name that is not a field."""
    key = (model, tuple(values))
    shape = _row_shapes.get(key)
    if shape is None:
        shape = _row_shapes[key] = _RowShape(model, key[1])
    args = shape.args.copy()
    for position, name in shape.placed:
        args[position] = values[name]
    for position, make in shape.made:
        args[position] = make()
    row = model(*args)
    for name in shape.related:
        setattr(row, name, values[name])
    return row


def saved(objs: list[models.Model], ids: list[int]) -> None:
    """As bulk_create leaves them: saved, with their ids (in `objs`' order)."""
    alias = database().alias
    for obj, pk in zip(objs, ids, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, alias
