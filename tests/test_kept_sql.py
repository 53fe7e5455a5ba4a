"""portal/kept_sql.py: a statement compiled by Django is kept per shape and sent again with
each call's values only when its text and constants cannot depend on anything else; every
other statement is compiled on each call, as without it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from portal import kept_sql
from provisioning.models import Job
from tenants.models import RoleTemplate, Tenant
from tests.test_bulk_rows import connection_lookups


@pytest.fixture(autouse=True)
def _fresh():
    kept_sql.forget()
    yield
    kept_sql.forget()


class Builds:
    """A builder that counts its calls."""

    def __init__(self, make):
        self.make, self.calls = make, 0

    def __call__(self, *values) -> kept_sql.Built:
        self.calls += 1
        sql, params = self.make(*values).query.sql_with_params()
        return kept_sql.Built(sql, list(params), extra="readers")


def _sent(built: kept_sql.Built) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(built.sql, built.params)
        return [row[0] for row in cursor.fetchall()]


def _tenants():
    made = [
        Tenant.objects.create(name=f"K{n}", slug=f"k{n}", primary_domain=f"k{n}.example")
        for n in range(3)
    ]
    return {t.slug: t for t in made}


@pytest.mark.django_db
def test_a_kept_shape_is_sent_with_each_calls_own_values_and_not_compiled_again():
    tenants = _tenants()
    build = Builds(
        lambda pk, slug: (
            Tenant.objects.filter(pk__gte=pk)
            .exclude(slug=slug)
            .order_by("slug")
            .values_list("slug")
        )
    )
    first = kept_sql.kept("tenants", build, tenants["k0"].pk, "k1")
    assert _sent(first) == ["k0", "k2"]
    compiled = build.calls  # the values' build and the two stand-ins'

    second = kept_sql.kept("tenants", build, tenants["k1"].pk, "k2")
    assert build.calls == compiled  # the kept text, not compiled again
    assert second.extra == "readers"
    own = build(tenants["k1"].pk, "k2")
    assert (second.sql, second.params) == (own.sql, own.params)
    assert _sent(second) == ["k1"]
    assert _sent(kept_sql.kept("tenants", build, tenants["k0"].pk, "none")) == ["k0", "k1", "k2"]


@pytest.mark.django_db
def test_times_are_sent_as_each_call_gives_them():
    """Kept on PostgreSQL (a time is a parameter as it is); SQLite's backend turns a time
    into text, so there the statement is compiled each time: the rows are right either way."""
    tenants = _tenants()
    build = Builds(lambda since: Tenant.objects.filter(created_at__gte=since).values_list("slug"))
    newest = max(t.created_at for t in tenants.values())
    for since, sent in ((newest - timedelta(days=1), 3), (newest + timedelta(seconds=1), 0)):
        assert len(_sent(kept_sql.kept("since", build, since))) == sent
    assert build.calls == (3 if connection.vendor == "postgresql" else 4)


@pytest.mark.django_db
def test_a_text_that_depends_on_a_value_is_compiled_on_every_call():
    _tenants()
    # The value names a column: no stand-in is one, and each value's text differs.
    build = Builds(lambda order: Tenant.objects.order_by(order).values_list("slug"))
    assert _sent(kept_sql.kept("ordered", build, "slug")) == ["k0", "k1", "k2"]
    calls = build.calls
    assert _sent(kept_sql.kept("ordered", build, "-slug")) == ["k2", "k1", "k0"]
    assert build.calls == calls + 1


@pytest.mark.django_db
def test_a_parameter_worked_out_from_a_value_or_the_clock_is_never_kept():
    _tenants()
    later = Builds(
        lambda since: Tenant.objects.filter(created_at__gte=since + timedelta(days=1)).values(
            "slug"
        )
    )
    clock = Builds(
        lambda slug: Tenant.objects.filter(slug=slug, created_at__lte=timezone.now()).values("slug")
    )
    now = timezone.now()
    for build, value in ((later, now), (clock, "k1")):
        kept_sql.kept(build, build, value)
        calls = build.calls
        kept_sql.kept(build, build, value)
        assert build.calls == calls + 1, build
    assert _sent(kept_sql.kept(later, later, now)) == []  # a day ahead of them
    assert _sent(kept_sql.kept(clock, clock, "k1")) == ["k1"]


@pytest.mark.django_db
def test_a_value_of_a_kind_with_no_stand_in_is_compiled_on_every_call():
    _tenants()
    build = Builds(lambda slug: Tenant.objects.filter(slug=slug).values("slug"))
    for value, sent in ((None, []), (None, []), ("k2", ["k2"])):
        calls = build.calls
        assert _sent(kept_sql.kept("slug or none", build, value)) == sent
        assert build.calls > calls


@pytest.mark.django_db
def test_instances_are_the_rows_the_queryset_gives():
    """Made as Django's iterator makes them: every field converted (times, JSON), fields
    left out by only() deferred, and a second call's rows its own."""
    tenants = _tenants()
    Tenant.objects.filter(slug="k1").update(tags=["vip", {"since": 2026}])

    def build(slug: str):
        return kept_sql.first_of(Tenant.objects.filter(slug=slug))

    for slug in ("k1", "k2", "k1"):
        (made,) = kept_sql.instances("tenant", build, slug)
        (read,) = build(slug)
        assert made.pk == tenants[slug].pk and not made._state.adding
        for f in Tenant._meta.concrete_fields:
            assert getattr(made, f.attname) == getattr(read, f.attname), f.name
    assert kept_sql.instances("tenant", build, "none") == []

    judged = kept_sql.instances("only", lambda s: Tenant.objects.filter(slug=s).only("name"), "k0")
    assert [t.name for t in judged] == ["K0"]
    assert judged[0].get_deferred_fields() == {
        f.attname for f in Tenant._meta.concrete_fields if f.name not in ("id", "name")
    }
    with pytest.raises(TypeError):
        kept_sql.instances(
            "joined", lambda s: RoleTemplate.objects.select_related("tenant").filter(name=s), "x"
        )


@pytest.mark.django_db
def test_rows_are_the_values_the_queryset_gives():
    """A values_list's rows as Django gives them: a time aware on SQLite too (its driver
    hands back a naive one), JSON decoded, across calls with other values."""
    tenants = _tenants()
    Tenant.objects.filter(slug="k2").update(tags=["vip"])

    def build(slug: str):
        return Tenant.objects.filter(slug=slug).values_list("pk", "created_at", "tags")

    for slug in ("k1", "k2", "k1"):
        rows = kept_sql.rows("tenant values", build, slug)
        assert rows == [list(r) for r in build(slug)]
        assert rows[0][0] == tenants[slug].pk and timezone.is_aware(rows[0][1])


def _by_slug(slug: str, lowest_id: int) -> Q:
    return Q(slug=slug, pk__gte=lowest_id)


def _own_build(values: dict, *where_values) -> tuple[str, list]:
    query = UpdateQuery(Tenant)
    query.add_update_values(values)
    query.add_q(_by_slug(*where_values))
    sql, params = query.get_compiler(connection=connection).as_sql()
    return sql, _comparable(params)


def _comparable(params) -> list:
    # psycopg's Jsonb has no equality of its own: its object and dumps function, and the type
    return [(type(p), p.obj, p.dumps) if hasattr(p, "dumps") else (type(p), p) for p in params]


@pytest.mark.django_db
def test_a_kept_update_sends_the_statement_and_values_of_its_own_build():
    """JSON, a typed integer, a choices enum, a time and a boolean: each call the text
    and values Django's compiler gives for its own values; kept on PostgreSQL (SQLite turns
    JSON and times into text, so there it is built each time)."""
    tenants = _tenants()
    when = timezone.now()

    def values(n: int) -> dict:
        return {
            "tags": {"n": n, "at": "x"},
            "offboard_hold_percent": 10 + n,
            "notes": Job.Status.SUCCEEDED if n else "plain",
            "hr_webhook_secret_set_at": when + timedelta(seconds=n),
            "time_zone": f"Zone/{n}",
            "is_active": False,
        }

    for n, slug in enumerate(("k0", "k1", "k2")):
        built = kept_sql.update("tenant", Tenant, _by_slug, values(n), slug, 1)
        assert (built.sql, _comparable(built.params)) == _own_build(values(n), slug, 1)
        with connection.cursor() as cursor:
            cursor.execute(built.sql, built.params)
            assert cursor.rowcount == 1
    kept = [
        v for k, v in kept_sql._kept.items() if k[1][:3] == ("update", "tenants.Tenant", "tenant")
    ]
    # two shapes: the choices enum's and the plain str's
    assert [v is not None for v in kept] == [connection.vendor == "postgresql"] * 2
    for n, slug in enumerate(("k0", "k1", "k2")):
        tenant = Tenant.objects.get(pk=tenants[slug].pk)
        assert (tenant.tags, tenant.offboard_hold_percent, tenant.time_zone) == (
            {"n": n, "at": "x"},
            10 + n,
            f"Zone/{n}",
        )
        assert tenant.notes == ("succeeded" if n else "plain")
        assert tenant.hr_webhook_secret_set_at == when + timedelta(seconds=n)
        assert not tenant.is_active


@pytest.mark.django_db
def test_an_update_of_other_nones_booleans_or_kinds_is_a_shape_of_its_own():
    tenants = _tenants()
    for values in (
        {"is_active": True, "notes": "a"},
        {"is_active": False, "notes": "b"},
        {"is_active": False, "notes": None},  # NULL in the text: the column refuses it
        {"is_active": False, "notes": ["a list: no stand-in"]},
    ):
        built = kept_sql.update("tenant", Tenant, _by_slug, values, "k1", 1)
        assert (built.sql, _comparable(built.params)) == _own_build(values, "k1", 1)
    assert (
        "NULL"
        in kept_sql.update(
            "tenant", Tenant, _by_slug, {"is_active": False, "notes": None}, "k1", 50
        ).sql
    )
    assert Tenant.objects.get(pk=tenants["k1"].pk).is_active


@pytest.mark.django_db
def test_a_kept_shape_and_its_instances_look_the_connection_up_once_whatever_the_rows():
    """The thread's connection (asgiref's `Local` behind `django.db.connection`) is looked
    up for the cursor alone: not for a kept shape's key, nor for each instance made."""
    _tenants()

    def build(pk: int):
        return Tenant.objects.filter(pk__gte=pk).order_by("pk")

    first = Tenant.objects.order_by("pk").first().pk
    kept_sql.instances("tenants from", build, first)  # the shape kept
    looked_up = {}
    for n in (1, 3):
        with connection_lookups() as counted:
            made = kept_sql.instances("tenants from", build, first + 3 - n)
        assert len(made) == n
        looked_up[n] = counted[0]
    assert looked_up == {1: 1, 3: 1}
