"""portal/kept_sql.py: a statement compiled by Django is kept per shape and sent again with
each call's values only when its text and constants cannot depend on anything else; every
other statement is compiled on each call, as without it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from portal import kept_sql
from tenants.models import RoleTemplate, Tenant


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
