"""Helpers for the audit page tests: events with known content, reading ids back from pages."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import html
import io
import re
from collections.abc import Iterator

from django.db import connection
from django.urls import reverse

from portal.audit.bulk import append_events, history_event
from portal.audit.models import AuditEvent

EVENT_ID = re.compile(r'id="event-(\d+)"')
OLDER = re.compile(r'href="(\?[^"]*?before=[0-9-]+)"')
NEWER = re.compile(r'href="(\?[^"]*?after=[0-9-]+)"')
TRIGGER = "audit_event_append_only"


def audit_url(**params) -> str:
    from urllib.parse import urlencode

    query = urlencode({k: v for k, v in params.items() if v is not None})
    return reverse("audit_list") + (f"?{query}" if query else "")


def export_url(**params) -> str:
    return audit_url(**params).replace(reverse("audit_list"), reverse("audit_export"), 1)


def event_ids(response) -> list[int]:
    assert response.status_code == 200, response.status_code
    return [int(pk) for pk in EVENT_ID.findall(response.content.decode())]


def visible(client, **params) -> set[int]:
    return set(event_ids(client.get(audit_url(**params))))


def older_link(response) -> str | None:
    """The URL of the "Older" page link, or None at the end of the trail."""
    return _link(OLDER, response)


def newer_link(response) -> str | None:
    return _link(NEWER, response)


def _link(pattern: re.Pattern, response) -> str | None:
    found = pattern.search(response.content.decode())
    return reverse("audit_list") + html.unescape(found.group(1)) if found else None


def history(
    tenant,
    count: int,
    *,
    start: dt.datetime,
    step: dt.timedelta = dt.timedelta(minutes=1),
    action: str = "job.plan",
    actor="system",
    target=None,
    **fields,
) -> list[AuditEvent]:
    """`count` events of `tenant` (or the global chain), one `step` apart from `start`."""
    events = [
        history_event(
            action,
            timestamp=start + n * step,
            actor=actor,
            tenant=tenant,
            target=target or ("provisioning.identity", n, f"Person {n}"),
            **fields,
        )
        for n in range(count)
    ]
    append_events(events)
    return events


def newest_first_ids(**filters) -> list[int]:
    return list(
        AuditEvent.objects.filter(**filters)
        .order_by("-timestamp", "-id")
        .values_list("id", flat=True)
    )


def csv_rows(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff"), "the export starts with a byte order mark, for Excel"
    return list(csv.DictReader(io.StringIO(body[1:])))


@contextlib.contextmanager
def tampering() -> Iterator:
    """A cursor that may rewrite audit rows: on PostgreSQL the append-only trigger is off for
    this test's transaction (it is rolled back with the test)."""
    postgres = connection.vendor == "postgresql"
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        if postgres:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {TRIGGER}")
        yield cursor
        if postgres:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {TRIGGER}")
