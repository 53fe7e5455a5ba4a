"""The rows some setup adds to the database, copied once and written again into each test.

A transactional test's tables are flushed after it, so data it reads cannot be shared the
way `db` tests share theirs (a module's atomic block, a savepoint each). Setup that costs
seconds (the demo and its month of history) runs once in a transaction that is rolled back,
its rows read first; each test then gets them back with one INSERT a table, exactly as they
were (the same ids, hashes, timestamps), and its own writes go with its flush as before.
Nothing the setup queued is sent (its `on_commit` callbacks go with the rollback)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction


@dataclass(frozen=True)
class Rows:
    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


def _all_rows() -> dict[str, Rows]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    found = {}
    with connection.cursor() as cursor:
        for table in sorted(tables):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            rows = tuple(cursor.fetchall())
            columns = tuple(column[0] for column in cursor.description)
            found[table] = Rows(table, columns, rows)
    return found


def _added(before: Rows, after: Rows) -> Rows:
    kept = {repr(row) for row in before.rows}  # repr: a value may be a list
    if not kept <= {repr(row) for row in after.rows}:
        raise AssertionError(f"The setup changed or deleted rows of {before.table}: not copied.")
    added = tuple(row for row in after.rows if repr(row) not in kept)
    return Rows(after.table, after.columns, added)


def rows_added_by(setup: Callable[[], object]) -> list[Rows]:
    """Run `setup` in a transaction rolled back afterwards; the rows it added, by table."""
    with transaction.atomic():
        before = _all_rows()
        setup()
        after = _all_rows()
        transaction.set_rollback(True)
    added = (_added(before[table], after[table]) for table in after)
    return [rows for rows in added if rows.rows]


def write(copied: list[Rows]) -> None:
    """The copied rows, inserted again (foreign keys are checked at the commit)."""
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for rows in copied:
            columns = ", ".join(quote(column) for column in rows.columns)
            values = ", ".join(["%s"] * len(rows.columns))
            insert = f"INSERT INTO {quote(rows.table)} ({columns}) VALUES ({values})"  # noqa: S608
            cursor.executemany(insert, rows.rows)
