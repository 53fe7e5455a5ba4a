"""Setting fields of many rows in one statement, for the places that write a batch at once.

Django's `bulk_update` builds a CASE expression per row and field and compiles it each time:
about 10 ms of CPU for a `$batch` of seven steps' eight outcome fields, seconds for ten
thousand rows. `set_many` sends `UPDATE ... FROM (VALUES ...)` instead (PostgreSQL, and
SQLite since 3.33)."""

from __future__ import annotations

from django.db import connection

BATCH = 500  # rows per statement (fewer where SQLite caps the parameters)


def set_many(
    model, fields: list[str], rows: list[tuple], *, where: tuple[str, list] | None = None
) -> int:
    """Set `fields` of many rows of `model`, each row given as (pk, *values); the number of
    rows set. `where`: (an SQL condition on the table's columns, its parameters) that a row
    must also meet to be set."""
    if not rows:
        return 0
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    # PostgreSQL types a VALUES list from its rows, and a parameter alone has no type.
    cast = connection.vendor == "postgresql"
    slot = "({})".format(
        ", ".join(f"CAST(%s AS {f.db_type(connection)})" if cast else "%s" for f in columns)
    )
    table = quote(meta.db_table)
    assignments = ", ".join(
        f"{quote(f.column)} = v.column{n}" for n, f in enumerate(columns[1:], start=2)
    )
    limit = connection.features.max_query_params or BATCH * len(columns)
    size = max(1, min(BATCH, limit // len(columns)))
    condition, condition_params = where or ("", [])
    extra = f" AND ({condition})" if condition else ""
    done = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), size):
            batch = rows[start : start + size]
            params = [
                f.get_db_prep_save(value, connection)
                for row in batch
                for f, value in zip(columns, row, strict=True)
            ]
            cursor.execute(
                f"UPDATE {table} SET {assignments} FROM (VALUES {', '.join([slot] * len(batch))})"  # noqa: S608
                f" AS v WHERE {table}.{quote(meta.pk.column)} = v.column1{extra}",
                params + list(condition_params),
            )
            done += cursor.rowcount
    return done
