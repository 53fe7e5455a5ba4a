"""Quarantine's window: a connection whose recent operations mostly failed for good (each one
past its retries) is stopped once, with one audit event, and an MSP admin can release it.
Every test runs on both backends. The probe that releases it by itself:
test_quarantine_breaker.py."""

from __future__ import annotations

import pytest

from portal.audit.models import AuditEvent
from provisioning import quarantine
from provisioning.quarantine import MIN_CALLS, WINDOW
from tests.provisioning.throttle_support import (
    database_shared_between_threads,
    limiter_backend,  # noqa: F401 - the fixture
    run_threads,
)

pytestmark = pytest.mark.usefixtures("limiter_backend")


def events(action: str, connection) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=action, target_id=str(connection.pk)).order_by("seq")
    )


def fail(connection, times: int, reason: str = "HTTP 503 from the directory") -> list[bool]:
    return [quarantine.record_outcome(connection, ok=False, reason=reason) for _ in range(times)]


def succeed(connection, times: int) -> list[bool]:
    return [quarantine.record_outcome(connection, ok=True) for _ in range(times)]


def test_failures_below_min_calls_do_not_quarantine(alpha):
    conn = alpha.connection
    assert fail(conn, MIN_CALLS - 1) == [False] * (MIN_CALLS - 1)
    assert quarantine.failure_share(conn) == (MIN_CALLS - 1, MIN_CALLS - 1)
    conn.refresh_from_db()
    assert conn.quarantined_at is None
    assert events("connection.quarantine", conn) == []


def test_a_batchs_outcomes_count_as_the_same_outcomes_one_by_one(alpha):
    conn = alpha.connection
    succeed(conn, 10)
    batch = [(False, "HTTP 503")] * 10 + [(True, "")] + [(False, "HTTP 500: the last")]
    # 11 failures of the last 20 once the batch is in, the newest naming why.
    assert quarantine.record_outcomes(conn, batch) is True
    assert quarantine.failure_share(conn) == (11, 20)
    conn.refresh_from_db()
    assert conn.quarantine_reason == "11 of the last 20 operations failed: HTTP 500: the last"
    assert len(events("connection.quarantine", conn)) == 1


def test_trips_once_just_above_the_threshold_with_one_audit_event(alpha):
    conn = alpha.connection
    assert succeed(conn, 10) == [False] * 10
    assert fail(conn, 10) == [False] * 10  # 10 of 20 is 50 %: not more than the threshold
    assert quarantine.record_outcome(conn, ok=False, reason="HTTP 503: try later") is True
    assert fail(conn, 5) == [False] * 5
    assert quarantine.failure_share(conn) == (16, 20)

    conn.refresh_from_db()
    assert conn.quarantined_at is not None
    assert conn.quarantine_reason == "11 of the last 20 operations failed: HTTP 503: try later"
    [event] = events("connection.quarantine", conn)
    assert event.actor_kind == "system"
    assert event.tenant_id == alpha.tenant.pk
    assert event.after["quarantine_reason"] == conn.quarantine_reason
    assert (event.after["failed"], event.after["seen"]) == (11, 20)
    assert event.after["next_probe_at"] > event.after["quarantined_at"]


def test_the_caller_s_connection_object_shows_the_quarantine(alpha):
    conn = alpha.connection
    fail(conn, MIN_CALLS)
    assert conn.quarantined_at is not None
    assert conn.quarantine_reason.startswith(
        f"{MIN_CALLS} of the last {MIN_CALLS} operations failed"
    )


def test_the_window_holds_only_the_last_calls(alpha):
    conn = alpha.connection
    succeed(conn, WINDOW + 10)
    assert quarantine.failure_share(conn) == (0, WINDOW)
    assert fail(conn, 10) == [False] * 10  # 10 of the last 20: 50 %, not more
    assert quarantine.failure_share(conn) == (10, WINDOW)
    assert quarantine.record_outcome(conn, ok=False, reason="timeout") is True
    conn.refresh_from_db()
    assert conn.quarantine_reason == "11 of the last 20 operations failed: timeout"


def test_a_long_reason_is_cut_to_fit(alpha):
    conn = alpha.connection
    fail(conn, MIN_CALLS, reason="x" * 2000)
    conn.refresh_from_db()
    assert conn.quarantined_at is not None
    assert len(conn.quarantine_reason) <= 500


def test_one_connection_s_failures_do_not_touch_another(alpha):
    fail(alpha.connection, MIN_CALLS)
    okta = alpha.okta_connection
    okta.refresh_from_db()
    assert okta.quarantined_at is None
    assert quarantine.failure_share(okta) == (0, 0)


def test_release_clears_the_quarantine_and_the_window_with_an_audit_event(alpha, msp_admin):
    conn = alpha.connection
    fail(conn, MIN_CALLS)
    quarantine.release(conn, actor=msp_admin)

    conn.refresh_from_db()
    assert conn.quarantined_at is None and conn.quarantine_reason == ""
    assert quarantine.failure_share(conn) == (0, 0)
    [event] = events("connection.release", conn)
    assert event.actor_username == msp_admin.username
    assert event.before["quarantine_reason"].startswith(f"{MIN_CALLS} of the last")
    assert quarantine.state_of(conn).is_open is False
    assert event.after == {"quarantined_at": None, "quarantine_reason": ""}

    # A fresh window: it takes MIN_CALLS outcomes again before it can trip.
    assert fail(conn, MIN_CALLS - 1) == [False] * (MIN_CALLS - 1)
    assert quarantine.record_outcome(conn, ok=False) is True
    assert len(events("connection.quarantine", conn)) == 2


def test_releasing_a_connection_that_is_not_quarantined_records_nothing(alpha, msp_admin):
    conn = alpha.connection
    fail(conn, 3)
    quarantine.release(conn, actor=msp_admin)
    assert quarantine.failure_share(conn) == (0, 0)
    assert events("connection.release", conn) == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_quarantine_exactly_once(alpha, limiter_backend):  # noqa: F811
    if limiter_backend == "database" and not database_shared_between_threads():
        pytest.skip("the test database is SQLite in memory")
    conn = alpha.connection

    results = run_threads(6, lambda _: fail(type(conn).objects.get(pk=conn.pk), 4))
    assert all(isinstance(r, list) for r in results), results
    assert sum(r.count(True) for r in results) == 1
    assert len(events("connection.quarantine", conn)) == 1
    assert quarantine.failure_share(conn) == (WINDOW, WINDOW)
