"""The client report as CSV: its figures first, then its rows, in sections Excel opens cleanly.

UTF-8 with a byte-order mark (Excel otherwise guesses the wrong encoding for names with
accents), CRLF line ends, and every cell that a spreadsheet would run as a formula written
with a leading single quote (portal.csv_cells.neutralise), whoever typed it. Every record
has as many fields as the widest section (RFC 4180 §2.4): the shorter ones, the titles and
the blank lines between sections are padded with empty fields, which a spreadsheet shows as
empty cells.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from portal.csv_cells import neutralise
from portal.csv_cells import writer as csv_writer
from reports.report import Report, Stats

BOM = "\ufeff"


def report_csv(report: Report) -> str:
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv_writer(buffer)
    lines = list(report_lines(report))
    width = max(len(line) for line in lines)
    for line in lines:
        writer.writerow([neutralise(cell) for cell in line] + [""] * (width - len(line)))
    return buffer.getvalue()


def filename(report: Report) -> str:
    return f"{report.tenant.slug}-provisioning-{report.start:%Y-%m-%d}-to-{report.end:%Y-%m-%d}.csv"


def report_lines(report: Report) -> Iterator[list]:
    zone = ZoneInfo(report.tenant.time_zone)
    yield [f"{settings.MSP_NAME}: provisioning report"]
    yield ["Client", report.tenant.name]
    yield ["Period", f"{report.start:%Y-%m-%d}", f"{report.end:%Y-%m-%d}"]
    yield ["Generated", _when(report.generated_at, zone), report.tenant.time_zone]
    yield []
    yield ["Figure", "Value"]
    yield from figures(report)
    yield []
    yield ["Joiners, movers and leavers"]
    yield [
        "Kind",
        "Person",
        "Requested or due",
        "Done",
        "Hours to done",
        "Job",
        "Asked by",
        "Read back",
    ]
    for row in report.people:
        yield [
            row.kind,
            row.person,
            _when(row.requested_at, zone),
            _when(row.finished_at, zone),
            _hours(row.seconds),
            row.id,
            row.asked_by,
            _when(row.read_back_at, zone),
        ]
    yield []
    yield ["Access requests decided"]
    yield [
        "Person",
        "Resource",
        "Outcome",
        "Requested",
        "Decided",
        "Decided by",
        "Hours to granted",
    ]
    for r in report.requests:
        yield [
            r.person,
            r.resource,
            r.status,
            _when(r.requested_at, zone),
            _when(r.decided_at, zone),
            r.decided_by,
            _hours(r.seconds),
        ]
    yield []
    yield ["Failed operations"]
    yield ["Job", "Kind", "Person", "Step", "Operation", "Target", "Error", "Job ended"]
    for f in report.failed_steps:
        yield [
            f.job_id,
            f.job_kind,
            f.person,
            f.order,
            f.action,
            f.target,
            f.error,
            _when(f.finished_at, zone),
        ]
    yield []
    yield ["Licence seats in use at the end of each day (see the report for how it is counted)"]
    yield ["SKU", "Day", "Seats in use"]
    for series in report.licences:
        for day, used in series.points:
            yield [series.sku, f"{day:%Y-%m-%d}", used]
    yield from _licence_waste(report, zone)


def figures(report: Report) -> Iterator[list]:
    yield ["Joiners", len(report.joiners)]
    yield ["Movers", len(report.movers)]
    yield ["Leavers", len(report.leavers)]
    yield ["Access requests received", report.requests_received]
    yield ["Access requests granted", report.granted]
    yield ["Access requests denied", report.denied]
    yield ["Access requests expired without a decision", report.expired]
    yield ["Access grants that failed", report.grant_failed]
    yield from _stats("Joiners, movers and leavers: hours to done", report.job_times)
    yield from _stats("Access requests: hours from request to granted", report.request_times)
    yield ["Jobs failed or partly failed", len(report.failed_jobs)]
    yield ["Failed operations (steps)", len(report.failed_steps)]
    yield ["Jobs run again (retried)", len(report.retried_jobs)]
    yield ["Operations that needed more than one attempt", report.retried_steps]
    if report.licence_waste is not None and report.licence_waste.skus:
        yield ["Licence seats that could be freed now", report.licence_waste.freeable]


def _licence_waste(report: Report, zone: ZoneInfo) -> Iterator[list]:
    waste = report.licence_waste
    if waste is None:
        return
    yield []
    read = _when(waste.read_at, zone)
    yield [f"Licence waste now (as the inventory last read it{', ' + read if read else ''})"]
    yield [
        "Directory",
        "SKU",
        "Seats",
        "Assigned",
        "Not assigned",
        "On blocked accounts",
        f"On accounts without a sign-in for {waste.days} days",
        "Could be freed",
    ]
    for s in waste.skus:
        stale = "unknown" if s.on_stale is None else s.on_stale
        yield [s.directory, s.name, s.total, s.consumed, s.unused, s.on_disabled, stale, s.freeable]
    for note in waste.notes:
        yield [note]


def _stats(label: str, stats: Stats) -> Iterator[list]:
    yield [f"{label}, median", _hours(stats.median)]
    yield [f"{label}, 90th percentile", _hours(stats.p90)]


def _hours(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 3600:.2f}"


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")
