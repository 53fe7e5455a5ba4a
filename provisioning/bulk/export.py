"""The CSV files the portal hands out: a tenant's template, and a batch's result.

Every cell that a spreadsheet would read as a formula (it starts with = + - @, a tab or a
carriage return) is written with a leading single quote, whoever typed it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

from portal.csv_cells import neutralise
from portal.csv_cells import writer as csv_writer
from provisioning.bulk import columns
from provisioning.models import Batch
from tenants import clock
from tenants.models import RoleTemplate, Tenant


def _writer() -> tuple[io.StringIO, csv.writer]:
    buffer = io.StringIO()
    return buffer, csv_writer(buffer)


def write_rows(rows) -> str:
    buffer, writer = _writer()
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


# -- the template -----------------------------------------------------------------------------


def _has_okta(tenant: Tenant) -> bool:
    return tenant.connections.filter(kind="okta").exists()


def template_csv(tenant: Tenant, kind: str) -> str:
    shown = columns.shown(kind, _has_okta(tenant))
    header = [column.name for column in shown]
    # each comment line padded to the header's fields: every record alike (RFC 4180 §2.4)
    padding = [""] * (len(header) - 1)
    lines = [header, *([*note, *padding] for note in _comment_lines(tenant, kind, shown))]
    if kind == columns.ONBOARD:
        example = _example_row(tenant)
        if example:
            lines.append([example.get(name, "") for name in header])
    return write_rows(lines)


def _comment_lines(tenant: Tenant, kind: str, shown) -> list[list[str]]:
    roles = list(RoleTemplate.objects.filter(tenant=tenant).values_list("name", flat=True))
    notes = [f"{tenant.name} bulk {kind}ing. Lines starting with # are ignored; delete them."]
    for column in shown:
        required = " (required)" if column.required else ""
        notes.append(f"{column.name}{required}: {column.help}".rstrip(": "))
    if kind == columns.ONBOARD:
        notes.append(
            "Roles of this tenant: " + " ; ".join(roles)
            if roles
            else "This tenant has no role templates yet: an MSP admin adds them first."
        )
        notes.append(f"Usernames must be in: {' ; '.join(tenant.domains)}")
        notes.append("The row below is an example: replace it with your people.")
    else:
        notes.append(f"Times are in the tenant's time zone, {tenant.time_zone}.")
        # A date ahead of today: a leave_at in the past is refused, and the example is copied.
        leave_day = clock.tenant_today(tenant) + timedelta(days=14)
        okta_mode = "suspend, " if any(c.name == "okta_mode" for c in shown) else ""
        notes.append(
            f"Example: jane.doe@{tenant.primary_domain} (username), blank employee_id, "
            f"{leave_day.isoformat()} 17:30 (leave_at), {okta_mode}30, All Staff"
        )
    return [[f"{columns.COMMENT} {note}"] for note in notes]


def _example_row(tenant: Tenant) -> dict[str, str]:
    template = RoleTemplate.objects.filter(tenant=tenant).first()
    if template is None:
        return {}
    start = clock.tenant_today(tenant) + timedelta(days=14)
    return {
        **columns.EXAMPLE_PERSON,
        "role": template.name,
        "start_date": start.isoformat(),
        "job_title": template.job_title or "Analyst",
    }


# -- the result -------------------------------------------------------------------------------


def result_rows(batch: Batch) -> Iterator[list]:
    header = batch.options.get("header") or columns.names(_kind(batch))
    onboarding = batch.kind == Batch.Kind.CSV_ONBOARD
    yield [
        "row",
        *header,
        *(["assigned_username"] if onboarding else []),
        "outcome",
        "job_id",
        "error",
    ]
    for row in batch.rows.select_related("job").order_by("line"):
        cells = row.data.get("input", {})
        yield [
            row.line,
            *(cells.get(name, "") for name in header),
            *([row.data.get("username", "")] if onboarding else []),
            _outcome(batch, row),
            row.job_id or "",
            "; ".join(row.errors) or (row.job.error if row.job else ""),
        ]


def result_csv(batch: Batch) -> str:
    return write_rows(result_rows(batch))


def _kind(batch: Batch) -> str:
    return columns.ONBOARD if batch.kind == Batch.Kind.CSV_ONBOARD else columns.OFFBOARD


def _outcome(batch: Batch, row) -> str:
    if row.errors:
        return "invalid"
    if row.job is not None:
        return row.job.status
    if batch.status == Batch.Status.CANCELLED:
        return "cancelled"
    return "valid, not queued"
