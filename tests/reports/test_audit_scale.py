"""The audit page at scale: SQL queries per page do not grow with tenants or rows, and every
page query (unfiltered, per filter, deep in the trail) is an index scan, never a scan of the
events table. bench/pages.py measures the times on a million events; this pins the shapes."""

from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from django.db import connection
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from reports import audit_queries
from reports.audit_queries import AuditFilters, Cursor
from tenants.models import Tenant
from tests.factories import make_person

from .audit_support import audit_url, event_ids, history, older_link

pytestmark = pytest.mark.django_db

# The session, the user, their second factor (one query whether they have one or not: the
# device this session verified with, or that they have none), their role, their tenants, the
# page's events: whatever the counts.
MAX_QUERIES = 6


def make_tenants(count: int) -> list[Tenant]:
    return [
        Tenant.objects.create(name=f"Tenant {n:03}", slug=f"t{n:03}", primary_domain=f"t{n}.test")
        for n in range(count)
    ]


@pytest.mark.parametrize("tenant_count", [2, 20])
def test_queries_per_page_do_not_grow_with_tenants_or_rows(
    client, django_assert_max_num_queries, tenant_count
):
    tenants = make_tenants(tenant_count)
    start = timezone.now() - dt.timedelta(days=3)
    for tenant in tenants:
        history(tenant, 120 // tenant_count, start=start, before={"a": 1}, after={"a": 2, "b": 3})
    technician = make_person("tech-many", Role.TECHNICIAN, tenants)
    admin = make_person("admin-many", Role.MSP_ADMIN)
    for person in (technician, admin):
        client.force_login(person)
        with django_assert_max_num_queries(MAX_QUERIES):
            first = client.get(audit_url())
        assert len(event_ids(first)) == audit_queries.PAGE_SIZE
        with django_assert_max_num_queries(MAX_QUERIES):
            second = client.get(older_link(first))
        assert len(event_ids(second)) == audit_queries.PAGE_SIZE
        with django_assert_max_num_queries(MAX_QUERIES):
            filtered = client.get(audit_url(tenant="t001", action="job.", result="success"))
        assert len(event_ids(filtered)) == min(audit_queries.PAGE_SIZE, 120 // tenant_count)


# -- EXPLAIN -------------------------------------------------------------------------------

TENANTS = 40
EVENTS = 30_000
ACTIONS = ["directory.add_group", "directory.create_user", "job.plan", "identity.onboard"]


@pytest.fixture
def many_events(db):
    """30,000 events over 40 tenants (and the global chain) across a year, then ANALYZE.

    Their hashes are not chained: only the shape of the table matters to the planner.
    """
    tenants = make_tenants(TENANTS)
    rng = random.Random(8)
    now = timezone.now()
    seqs: dict[str, int] = {}
    rows = []
    for n in range(EVENTS):
        tenant = rng.choice([*tenants, None])
        chain = "global" if tenant is None else f"tenant:{tenant.pk}"
        seqs[chain] = seqs.get(chain, 0) + 1
        rows.append(
            AuditEvent(
                timestamp=now - dt.timedelta(minutes=rng.uniform(0, 525_600)),
                chain_key=chain,
                seq=seqs[chain],
                actor_kind="person" if n % 7 else "system",
                actor_username=f"user{n % 50}" if n % 7 else "system",
                tenant_id=tenant and tenant.pk,
                tenant_name=tenant.name if tenant else "",
                action=rng.choice(ACTIONS),
                target_type="provisioning.identity",
                target_id=str(n % 5000),
                target_display=f"{rng.choice(['Ada', 'Ben', 'Cleo'])} Person{n}",
                result="failure" if n % 40 == 0 else "success",
                job_id=str(n // 3),
                prev_hash="0" * 64,
                hash=f"{n:064x}",
            )
        )
    AuditEvent.objects.bulk_create(rows, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AuditEvent._meta.db_table}")
    return tenants


def plan_of(scope, filters: AuditFilters | None = None, cursor: Cursor | None = None) -> str:
    return audit_queries.page_query(scope, filters or AuditFilters(), cursor).explain()


def full_scans(plan: str) -> list[str]:
    """The plan's lines that read the whole events table."""
    table = AuditEvent._meta.db_table
    if connection.vendor == "postgresql":
        return [line for line in plan.splitlines() if f"Seq Scan on {table}" in line]
    # SQLite: "SCAN audit_auditevent" alone is a table scan; "... USING INDEX x" is not.
    return [line for line in plan.splitlines() if re.search(rf"SCAN {table}\s*$", line)]


def deep_cursor(**filters) -> Cursor:
    """A cursor about 80% down the trail, as page 500 of a million events would be."""
    events = AuditEvent.objects.filter(**filters).order_by("-timestamp", "-id")
    return Cursor.at(events[int(events.count() * 0.8)])


def scopes(tenants) -> dict[str, audit_queries.Scope]:
    """An MSP admin's scope, and technicians' IN (tenant ids) scopes of few to all tenants."""
    refs = tuple(audit_queries.TenantRef(t.pk, t.slug, t.name) for t in tenants)
    return {
        "msp admin": audit_queries.Scope(refs, msp_admin=True),
        **{
            f"technician of {share:.0%}": audit_queries.Scope(
                refs[: max(1, int(len(refs) * share))], msp_admin=False
            )
            for share in (0.05, 0.5, 1.0)
        },
    }


FILTERS = {
    "none": {},
    "actor": {"actor": "user7"},
    "action": {"action": "job.plan"},
    "action prefix": {"action": "directory."},
    "result": {"result": "failure"},
    "target": {"target_type": "provisioning.identity", "target_id": "42"},
    "job": {"job_id": "77"},
    "text": {"text": "person123"},
    "dates": {"since": timezone.now() - dt.timedelta(days=40)},
    "several": {"action": "directory.", "result": "success", "text": "ada"},
}


def test_every_filter_is_an_index_scan(many_events):
    """Each filter, over all of a person's tenants and for one tenant, for each kind of scope."""
    problems = []
    for scope_name, scope in scopes(many_events).items():
        for name, fields in FILTERS.items():
            for tenant in ("", scope.tenants[0].slug):
                plan = plan_of(scope, AuditFilters(tenant=tenant, **fields))
                if full_scans(plan):
                    problems.append(f"{scope_name}, {name}, tenant={tenant!r}:\n{plan}")
    assert not problems, "\n\n".join(problems)


def test_deep_pages_are_index_scans(many_events):
    tenant = many_events[0]
    problems = []
    for scope_name, scope in scopes(many_events).items():
        cases = [
            (AuditFilters(), deep_cursor()),
            (AuditFilters(tenant=tenant.slug), deep_cursor(tenant_id=tenant.pk)),
            (AuditFilters(action="directory."), deep_cursor()),
        ]
        for filters, cursor in cases:
            for newer in (False, True):
                at = Cursor(cursor.timestamp, cursor.id, newer)
                plan = plan_of(scope, filters, at)
                if full_scans(plan):
                    problems.append(f"{scope_name}, {filters}, {at}:\n{plan}")
    assert not problems, "\n\n".join(problems)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigram index is PostgreSQL's")
def test_free_text_uses_the_trigram_index(many_events):
    plan = plan_of(scopes(many_events)["msp admin"], AuditFilters(text="person123"))
    assert "audit_target_display_trgm_idx" in plan, plan
