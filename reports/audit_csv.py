"""The audit export: the filtered events as CSV, streamed, for Excel as much as for scripts.

A UTF-8 byte order mark first (Excel then reads UTF-8), CRLF lines, and every cell that a
spreadsheet would take for a formula (or that starts with a quote) written with a leading quote.
Every field an event's hash covers is a column, so an export verifies on its own.
Rows are read ``iterator(chunk_size=...)`` and written a chunk at a time: a million events
cost constant memory, and the first bytes leave before the last row is read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from portal.audit.models import AuditEvent
from portal.audit.wording import action_words
from portal.csv_cells import neutralise
from portal.csv_cells import writer as csv_writer

CHUNK_SIZE = 2000
BOM = "\ufeff"
HEADER = (
    "timestamp_utc",
    "tenant",
    "actor_username",
    "actor",
    "action",
    "result",
    "target_type",
    "target_id",
    "target",
    "job_id",
    "request_id",
    "client_request_id",
    "source_ip",
    "before",
    "after",
    "chain",
    "seq",
    "key_id",
    "hash",
    # Added after the first release, so at the end: with these an export carries every field
    # its hashes cover, and an auditor can verify it without the portal (docs/audit.md).
    "prev_hash",
    "actor_kind",
    "actor_user_id",
    "tenant_id",
    # For an auditor reading the file outside the portal: the action as the trail shows it.
    "action_words",
)


def stream(events: QuerySet[AuditEvent]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(HEADER)
    yield BOM + _drain(buffer)
    for n, event in enumerate(events.iterator(chunk_size=CHUNK_SIZE), start=1):
        writer.writerow([_cell(cell) for cell in row(event)])
        if n % CHUNK_SIZE == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def row(event: AuditEvent) -> tuple:
    return (
        utc_timestamp(event.timestamp),
        event.tenant_name,
        event.actor_username,
        event.actor_display,
        event.action,
        event.result,
        event.target_type,
        event.target_id,
        event.target_display,
        event.job_id,
        event.request_id,
        event.client_request_id,
        event.source_ip or "",
        _json(event.before),
        _json(event.after),
        event.chain_key,
        event.seq,
        event.key_id,
        event.hash,
        event.prev_hash,
        event.actor_kind,
        "" if event.actor_user_id is None else event.actor_user_id,
        "" if event.tenant_id is None else event.tenant_id,
        action_words(event.action),
    )


def utc_timestamp(moment: dt.datetime) -> str:
    """ISO 8601 in UTC, with microseconds (the hash covers them) and the offset."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _cell(value) -> str:
    """Formula-safe, and reversible: a cell that starts with ' gets one more, so removing one
    leading ' from any cell that has one gives back the value that was hashed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith("'") else neutralise(text)


def _json(value) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
