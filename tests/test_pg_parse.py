"""portal/pg_parse.py: the split of a statement over psycopg's own cache rule (4,096 bytes,
50 parameters) is kept, and the text psycopg renders from it is the same bytes as with its
own split each time. psycopg's client-side conversion needs no server: both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from psycopg import _queries
from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb

from portal import pg_parse

# Over psycopg's rule on both counts: 120 parameters, over 4,096 bytes.
LONG = "SELECT " + ", ".join(f"%s AS c{i}_{'x' * 30}" for i in range(120))
VALUES = [
    *range(60),
    "o'neil",
    None,
    True,
    1.5,
    [1, 2, 3],
    ["a", "b'c", None],
    Jsonb({"k": "v"}),
    datetime(2026, 12, 6, 22, 40, tzinfo=UTC),
    *(["x"] * 52),
]


def rendered(text: str) -> bytes:
    query = _queries.PostgresClientQuery(Transformer())
    query.convert(text, VALUES)
    return query.query


def test_a_long_statement_is_split_once(monkeypatch):
    split = []
    original = _queries._split_query

    def counted(*args, **kwargs):
        split.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(_queries, "_split_query", counted)
    text = LONG + " -- split once"
    assert len(text) > _queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(VALUES) > _queries.MAX_CACHED_STATEMENT_PARAMS
    first = rendered(text)
    assert rendered(text) == first
    assert len(split) == 1


def test_the_text_rendered_is_the_same_as_with_psycopg_s_own_split(monkeypatch):
    text = LONG + " -- same bytes"
    kept, kept_again = rendered(text), rendered(text)
    monkeypatch.setattr(
        _queries, "_query2pg_client_nocache", _queries._query2pg_client_nocache.original
    )
    assert kept == kept_again == rendered(text)
    assert b"'o''neil'" in kept and b"NULL" in kept


def test_a_text_past_max_bytes_is_split_every_time(monkeypatch):
    split = []
    original = _queries._split_query
    monkeypatch.setattr(
        _queries, "_split_query", lambda *a, **k: split.append(1) or original(*a, **k)
    )
    text = LONG + " " * pg_parse.MAX_BYTES
    assert rendered(text) == rendered(text)
    assert len(split) == 2


def test_a_long_statement_bound_on_the_server_is_split_once_too(monkeypatch):
    """The workers bind on the server (portal/celery.py): psycopg's other split, kept too;
    the text sent ($n placeholders) and the parameters the same as psycopg's own."""
    split = []
    original = _queries._split_query
    monkeypatch.setattr(
        _queries, "_split_query", lambda *a, **k: split.append(1) or original(*a, **k)
    )
    text = LONG + " -- bound on the server"

    def converted() -> tuple[bytes, list]:
        query = _queries.PostgresQuery(Transformer())
        query.convert(text, VALUES)
        return query.query, list(query.params)

    first = converted()
    assert converted() == first and len(split) == 1
    monkeypatch.setattr(_queries, "_query2pg_nocache", _queries._query2pg_nocache.original)
    assert converted() == first and len(split) == 2
    assert b"$120" in first[0]
