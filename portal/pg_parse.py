"""psycopg splits a statement's text at its placeholders on every execute (with client-side
binding, Django's default, and with server-side binding, the workers'), keeping the split in
its own `lru_cache` only for a text of at most 4,096 bytes and 50 parameters
(`psycopg/_queries.py`: `MAX_CACHED_STATEMENT_LENGTH`, `MAX_CACHED_STATEMENT_PARAMS`,
`PostgresQuery.convert`, `PostgresClientQuery.convert`). The engine sends three texts
over that rule on every run, each the same every time: the claim (some 7 kB) and the step
outcomes' UPDATEs (52 and 101 parameters), about 2,000 Python calls a run to split again.

`install()` keeps those splits too, in a second small cache: a text up to MAX_BYTES, any
number of parameters, the MAX_TEXTS most recently used. The split is psycopg's own function,
called once per text; what is sent is the same bytes (the template filled with the values'
literals, or the text with $n and the values apart, as before). A longer text (a bulk insert
of many rows) is split every time, as psycopg does."""

from __future__ import annotations

from functools import lru_cache

MAX_BYTES = 16 * 1024
MAX_TEXTS = 32

_installed = False


# psycopg's uncached splits: server-side binding's (the workers', portal/celery.py) and
# client-side binding's (the web process's and the tests'). Each returns psycopg's own
# tuples, which its callers only read, as they read its own cache's.
SPLITS = ("_query2pg_nocache", "_query2pg_client_nocache")


def install() -> None:
    """Wrap psycopg's uncached splits (the ones its `convert` calls past its own rule); once."""
    global _installed
    if _installed:
        return
    try:
        from psycopg import _queries
    except ImportError:  # SQLite only: no psycopg to wrap
        return
    for name in SPLITS:
        split = getattr(_queries, name, None)
        if split is not None:  # another psycopg: nothing to wrap (tests/test_pg_parse.py)
            setattr(_queries, name, _kept_up_to_max_bytes(split))
    _installed = True


def _kept_up_to_max_bytes(split):  # noqa: ANN001, ANN202 - psycopg's own types
    kept = lru_cache(maxsize=MAX_TEXTS)(split)

    def query2pg(query: bytes, encoding: str):  # noqa: ANN202
        if len(query) <= MAX_BYTES:
            return kept(query, encoding)
        return split(query, encoding)

    query2pg.original = split  # type: ignore[attr-defined]
    query2pg.kept = kept  # type: ignore[attr-defined]
    return query2pg
