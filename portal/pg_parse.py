"""psycopg (client-side binding, Django's default) splits a statement's text at its
placeholders on every execute, keeping the split in its own `lru_cache` only for a text of
at most 4,096 bytes and 50 parameters (`psycopg/_queries.py`: `MAX_CACHED_STATEMENT_LENGTH`,
`MAX_CACHED_STATEMENT_PARAMS`, `PostgresClientQuery.convert`). The engine sends three texts
over that rule on every run, each the same every time: the claim (some 7 kB) and the step
outcomes' UPDATEs (52 and 101 parameters), about 2,000 Python calls a run to split again.

`install()` keeps those splits too, in a second small cache: a text up to MAX_BYTES, any
number of parameters, the MAX_TEXTS most recently used. The split is psycopg's own function,
called once per text; what is sent is the same bytes (the template filled with the values'
literals, as before). A longer text (a bulk insert of many rows) is split every time, as
psycopg does."""

from __future__ import annotations

from functools import lru_cache

MAX_BYTES = 16 * 1024
MAX_TEXTS = 32

_installed = False


def install() -> None:
    """Wrap psycopg's uncached split (the one its `convert` calls past its own rule); once."""
    global _installed
    if _installed:
        return
    try:
        from psycopg import _queries
    except ImportError:  # SQLite only: no psycopg to wrap
        return
    split = getattr(_queries, "_query2pg_client_nocache", None)
    if split is None:  # another psycopg: nothing to wrap (tests/test_pg_parse.py says so)
        return
    kept = lru_cache(maxsize=MAX_TEXTS)(split)

    def query2pg_client(query: bytes, encoding: str):  # noqa: ANN202 - psycopg's own type
        if len(query) <= MAX_BYTES:
            return kept(query, encoding)
        return split(query, encoding)

    query2pg_client.original = split  # type: ignore[attr-defined]
    query2pg_client.kept = kept  # type: ignore[attr-defined]
    _queries._query2pg_client_nocache = query2pg_client
    _installed = True
