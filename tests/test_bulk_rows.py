"""portal/bulk_rows.py: `insert_sql` prepares each value as Django's insert compiler does
(`pre_save`, then `get_db_prep_save`), through its short cuts for the usual values too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from unittest.mock import patch
from uuid import UUID

import pytest
from django.db import connection, connections, models
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy

from portal import bulk_rows
from portal.audit.models import AuditChainHead, AuditEvent
from portal.bulk_rows import insert_sql, prepared, set_many_sql
from provisioning.models import DirectoryAccount, Identity, Job, Step

SAMPLES = [
    *(None, 0, 7, 2**40, "", "text", True, False, datetime(2026, 12, 7, 9, 30, 1, 5, UTC)),
    *(Step.Status.SUCCEEDED, SafeString("<b>safe</b>"), gettext_lazy("lazy text")),
    *({"a": [1, "two", None]}, [], ["x", {"y": True}], {}),
]


def _as_django_prepares(field: models.Field, obj: models.Model):
    return field.get_db_prep_save(field.pre_save(obj, add=True), connection)


def _outcome(prepare, field, obj):
    try:
        value = prepare(field, obj)
    except Exception as error:  # noqa: BLE001 (the same failure either way is the point)
        return ("raised", type(error))
    return (type(value), getattr(value, "obj", value))  # Jsonb: its object


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", [AuditEvent, AuditChainHead, Job, Step, DirectoryAccount, Identity]
)
def test_each_value_is_prepared_as_djangos_insert_prepares_it(model):
    compared = 0
    for field in model._meta.concrete_fields:
        if (
            field.primary_key
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            continue  # stamped with the clock: prepared by Django itself, never short cut
        for sample in SAMPLES:
            obj = model()
            setattr(obj, field.attname, sample)
            mine = _outcome(lambda f, o: prepared(model, f, o), field, obj)
            theirs = _outcome(_as_django_prepares, field, obj)
            assert mine == theirs, (field.name, sample)
            compared += 1
    assert compared > 50


@pytest.mark.django_db
def test_a_clock_stamped_field_is_stamped_as_django_stamps_it():
    head = AuditChainHead(chain_key="x", seq=1, hash="h")
    field = AuditChainHead._meta.get_field("updated_at")
    before = datetime.now(UTC)
    value = prepared(AuditChainHead, field, head)
    assert head.updated_at >= before  # pre_save ran: auto_now stamps the instance
    assert value == connection.ops.adapt_datetimefield_value(head.updated_at)


@pytest.mark.django_db
def test_a_choices_value_is_prepared_without_djangos_calls_as_a_plain_strs_is():
    """A step's status and an event's result are their choices' enums (`str` subclasses):
    prepared as they are, as Django's `to_python` of a `str` leaves them."""
    step = Step(action=Step.Action.CREATE_USER, status=Step.Status.SUCCEEDED)
    asked = []
    with patch.object(
        models.CharField, "to_python", lambda self, value: asked.append(value) or value
    ):
        values = [prepared(Step, Step._meta.get_field(n), step) for n in ("action", "status")]
    assert values == ["create_user", "succeeded"]
    assert asked == []


@pytest.mark.django_db
def test_a_json_value_is_prepared_without_djangos_generic_calls():
    """An event's states and a step's params are JSON dicts and lists: prepared as the
    backend adapts them (`adapt_json_value`), as Django's `get_db_prep_save` ends."""
    event = AuditEvent(before={"status": "planned"}, after={"groups": ["Staff"]})
    fields = [AuditEvent._meta.get_field(name) for name in ("before", "after")]
    theirs = [_outcome(_as_django_prepares, field, event) for field in fields]
    asked = []
    with patch.object(
        models.JSONField,
        "get_db_prep_value",
        lambda self, *args, **kwargs: asked.append(args) or None,
    ):
        mine = [_outcome(lambda f, o: prepared(AuditEvent, f, o), f, event) for f in fields]
    assert mine == theirs
    assert asked == []


@contextmanager
def connection_lookups() -> Iterator[list[int]]:
    """How many times the thread's database connection is looked up while the block runs:
    asgiref's `Local`, behind every attribute of `django.db.connection` and every
    `connections[alias]` (several Python calls each)."""
    counted = [0]
    local = type(connections._connections)
    original = local.__getattr__

    def counting(self, key):
        counted[0] += 1
        return original(self, key)

    with patch.object(local, "__getattr__", counting):
        yield counted


def _events(n: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            chain_key="t:1",
            tenant_id=1,
            action="job.run",
            before={"n": n},
            after={"n": n},
            timestamp=datetime(2026, 12, 7, 1, 0, n, tzinfo=UTC),
            seq=n,
        )
        for n in range(n)
    ]


@pytest.mark.django_db
def test_building_a_statement_looks_the_connection_up_once_not_per_value():
    insert_sql(AuditEvent, _events(1))  # the shape made
    steps = [(n, "done", {"id": n}) for n in range(1, 6)]
    for build in (
        lambda n: insert_sql(AuditEvent, _events(n)),
        lambda n: set_many_sql(Step, ["status", "result"], steps[:n]),
    ):
        with connection_lookups() as one:
            build(1)
        with connection_lookups() as five:
            build(5)
        assert five == one
        assert one[0] <= 1


class _CountingPattern:
    """psycopg's escape pattern for an array's elements, its `sub` calls counted."""

    def __init__(self, pattern):
        self.pattern, self.calls = pattern, 0

    def sub(self, *args):
        self.calls += 1
        return self.pattern.sub(*args)


def _outcome_of(function, *args):
    try:
        return function(*args)
    except Exception as error:  # noqa: BLE001 (the same failure either way is the point)
        return ("raised", type(error))


def _dumped(params: list, format_) -> list:
    from psycopg.adapt import Transformer

    tx = Transformer()
    dumped = tx.dump_sequence(params, [format_] * len(params))
    return [bytes(d) if d is not None else None for d in dumped], list(tx.types or ())


class _Choice(models.TextChoices):
    ONE = "one"
    TWO = "two"


COLUMNS = [
    ["a", 'quo"te', "back\\slash", "", "NULL", "sp ace", None, "{br}", "c,d"],
    [None, None],
    [],
    [1, 2, 2**40],
    [True, False, None],
    [datetime(2026, 12, 7, 1, 2, 3, 4, UTC), None],
    [datetime(2026, 12, 7, 1, 2, 3), None],  # naive
    [datetime(2026, 12, 7, 1, 2, 3), datetime(2026, 12, 7, 1, 2, 3, 4, UTC)],
    [None, datetime(2026, 12, 7, 1, 2, 3, 4, UTC)],
    [UUID(int=7), None, UUID(int=2**100)],
    ["text", 1],  # mixed: psycopg refuses them, the same way
    [[1, 2], [3, None]],
    [2**70, -1],
    ["a", _Choice.ONE, None],
    [_Choice.TWO, None],
]


def _int_columns() -> list[list]:
    from psycopg.types.numeric import Int2, Int4, Int8

    return [[Int2(1), None], [Int4(2**20), Int4(-3)], [Int8(2**40)]]


@pytest.mark.django_db
def test_insert_sqls_arrays_are_dumped_as_psycopg_dumps_a_list_without_its_regex_escape():
    pytest.importorskip("psycopg")
    from psycopg.adapt import PyFormat
    from psycopg.types.array import ListDumper
    from psycopg.types.json import Jsonb

    _, params = insert_sql(AuditEvent, _events(3))
    params.append([Jsonb({"k": 'v"\\'}), Jsonb([1, "x"]), None])
    params += [*COLUMNS, *_int_columns()]
    for format_ in (PyFormat.AUTO, PyFormat.TEXT):
        for param in params:  # one at a time: a mixed column raises, as a list does
            assert _outcome_of(_dumped, [bulk_rows.Column(param)], format_) == _outcome_of(
                _dumped, [list(param)], format_
            )
    counting = _CountingPattern(ListDumper._re_esc)
    with patch.object(ListDumper, "_re_esc", counting):
        _dumped(insert_sql(AuditEvent, _events(3))[1], PyFormat.AUTO)
    assert counting.calls == 0


@pytest.mark.django_db
def test_insert_sqls_arrays_find_their_element_type_once_a_statement_not_per_column():
    """psycopg looks for a list's element (`_find_list_element`, a dozen calls) on every
    list it dumps; a column of `insert_sql` is keyed by its elements' type instead, and
    psycopg looks again only for a key it has not met in the statement."""
    pytest.importorskip("psycopg")
    from psycopg.adapt import PyFormat
    from psycopg.types.array import ListDumper

    _, params = insert_sql(AuditEvent, _events(3))
    # Plain ints (SQLite's preparation; PostgreSQL's is Int8) are keyed by their size.
    params = [p for p in params if int not in set(map(type, p))]
    found = {}
    for name, columns in (("once", params), ("twice", params + params)):
        with patch.object(
            ListDumper,
            "_find_list_element",
            autospec=True,
            side_effect=ListDumper._find_list_element,
        ) as finding:
            _dumped(columns, PyFormat.AUTO)
        found[name] = finding.call_count
    assert found["twice"] == found["once"]


def _built(row: models.Model) -> tuple:
    """What an instance holds: its fields' values, its state and the related objects it keeps."""
    values = {k: v for k, v in vars(row).items() if k != "_state"}
    state = row._state
    return values, state.adding, state.db, state.fields_cache


def _row_cases() -> list[tuple[type[models.Model], dict]]:
    job = Job(pk=41, tenant_id=3, identity_id=5)
    event = {
        **{"chain_key": "tenant:3", "tenant_id": 3, "tenant_name": "Contoso"},
        **{"action": "job.plan", "result": "success", "before": None, "after": {"round": 1}},
        **{"job_id": "41", "actor_kind": "system", "actor_username": "system"},
        **{"actor_display": "the system (worker)", "target_type": "provisioning.identity"},
        **{"target_id": "5", "target_display": "Ada Lovelace", "request_id": ""},
        **{"client_request_id": "", "source_ip": None},
    }
    step = {"connection_id": 7, "order": 1, "action": "add_group", "target_name": "Staff"}
    return [
        (AuditEvent, event),
        (AuditEvent, {"action": "job.plan", "tenant_id": None}),
        (AuditChainHead, {"chain_key": "tenant:3", "tenant_id": 3, "seq": 9, "hash": "ab"}),
        (Step, {"job": job, **step, "params": {"group": "g1"}}),  # the job kept, as Django keeps it
        (Step, {"job_id": 41, **step}),
        (Step, {"job": None, "connection_id": 7}),
        (Identity, {"tenant_id": 3, "username": "ada@contoso.example"}),
    ]


@pytest.mark.parametrize(("model", "values"), _row_cases())
def test_a_new_row_is_the_row_djangos_keywords_build(model, values):
    assert _built(bulk_rows.new_row(model, **values)) == _built(model(**values))
    # and again, from the shape kept by the first
    assert _built(bulk_rows.new_row(model, **values)) == _built(model(**values))


def test_a_new_rows_made_defaults_are_made_for_each_row():
    first, second = (bulk_rows.new_row(Step, connection_id=7, order=n) for n in (1, 2))
    assert first.params == {} and first.request_ids == [] and first.result == {}
    assert first.params is not second.params and first.request_ids is not second.request_ids


@pytest.mark.parametrize(
    "field",
    [
        models.CharField(max_length=3),
        models.CharField(max_length=3, null=True),
        models.IntegerField(),
        models.IntegerField(default=0),
        models.CharField(max_length=3, default="x"),
        models.JSONField(default=dict),
        models.JSONField(default=list),
        models.CharField(max_length=3, db_default="x"),
        models.DateTimeField(),
    ],
)
def test_a_default_is_kept_only_where_django_returns_the_same_one_each_time(field):
    same = field.get_default() is field.get_default()
    assert bulk_rows._default_is_constant(field) == same


def test_a_new_row_refuses_what_djangos_keywords_refuse():
    with pytest.raises(TypeError):
        Step(connection_id=7, colour="red")
    with pytest.raises(TypeError):
        bulk_rows.new_row(Step, connection_id=7, colour="red")
    with pytest.raises(TypeError):
        bulk_rows.new_row(Step, job=Job(pk=1), job_id=1)
