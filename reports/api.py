"""The client report and the audit trail in the public API: the same builders, scopes and
CSV as the pages, for a token instead of a session. Added to provisioning's API from
reports' AppConfig.ready: provisioning may not import reports."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.csv_cells import CSV_TABLE
from provisioning.api import scope
from provisioning.api.filters import Day, PathSlug, When, text
from provisioning.api.models import ApiToken
from provisioning.api.paging import Page, PageQuery, page_of
from provisioning.api.problems import Problem
from provisioning.api.schemas import ERRORS
from reports import audit_csv, audit_queries, export
from reports.audit_exports import record_export
from reports.forms import ReportPeriodForm
from reports.report import Report, build_report
from tenants import access
from tenants.clock import tenant_today

router = Router()

CSV = "text/csv; charset=utf-8"
# A bigger export is refused (400), never cut short: a trail that silently stops looks complete.
MAX_AUDIT_EXPORT_ROWS = 100_000


def _csv_response(description: str) -> dict:
    return {
        "responses": {
            200: {
                "description": description,
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    }


# -- the client report ------------------------------------------------------------------------


class PeriodQuery(Schema):
    period: Literal["last_30_days", "this_month", "last_month", "last_quarter", "custom"] = Field(
        "last_30_days", description="A preset, or custom with start and end."
    )
    start: Day | None = Field(None, description="First day (custom).")
    end: Day | None = Field(None, description="Last day, inclusive (custom).")


class StatsOut(Schema):
    count: int
    median: float | None
    p90: float | None


class JobRowOut(Schema):
    id: int
    kind: str
    status: str
    person: str
    requested_at: datetime
    finished_at: datetime
    seconds: float
    runs: int


class RequestRowOut(Schema):
    id: int
    person: str
    resource: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    decided_by: str
    seconds: float | None


class FailureRowOut(Schema):
    job_id: int
    job_kind: str
    person: str
    order: int
    action: str
    target: str
    error: str
    finished_at: datetime


class WeekOut(Schema):
    start: date
    joiners: int
    leavers: int


class LicenceOut(Schema):
    sku: str
    points: list[tuple[date, int]]
    total: int | None
    used_now: int | None
    at_start: int


class ReportOut(Schema):
    tenant: str
    start: date
    end: date
    generated_at: datetime
    joiners: list[JobRowOut]
    movers: list[JobRowOut]
    leavers: list[JobRowOut]
    failed_jobs: list[JobRowOut]
    retried_jobs: list[JobRowOut]
    failed_steps: list[FailureRowOut]
    retried_steps: int
    requests: list[RequestRowOut]
    requests_received: int
    job_times: StatsOut
    request_times: StatsOut
    weeks: list[WeekOut]
    licences: list[LicenceOut]
    licences_read_at: datetime | None

    @staticmethod
    def of(report: Report) -> dict:
        fields = {name: getattr(report, name) for name in ReportOut.model_fields}
        fields["tenant"] = report.tenant.slug
        for name, value in fields.items():
            if isinstance(value, list):
                fields[name] = [asdict(row) for row in value]
            elif name.endswith("_times"):
                fields[name] = asdict(value)
        return fields


def _report(token: ApiToken, slug: str, period: PeriodQuery) -> Report:
    tenant = scope.tenant_for(token, slug, access.READ_ROLES)
    data = {"period": period.period, "start": period.start or "", "end": period.end or ""}
    form = ReportPeriodForm(data, today=tenant_today(tenant))
    if not form.is_valid():
        errors = [
            {"loc": ["query", name], "msg": str(message), "type": "period"}
            for name, messages in form.errors.items()
            for message in messages
        ]
        raise Problem(422, "The period did not validate.", kind="invalid", errors=errors)
    _period, start, end = form.chosen()
    return build_report(tenant, start, end)


@router.get(
    "/tenants/{slug}/report",
    response={200: ReportOut, **ERRORS},
    summary="A tenant's client report",
    tags=["Reports"],
)
def client_report(request: HttpRequest, slug: PathSlug, period: Query[PeriodQuery]):
    """The provisioning report of one tenant for a period, as on its report page."""
    return ReportOut.of(_report(request.auth, slug, period))


@router.get(
    "/tenants/{slug}/report.csv",
    response={**ERRORS},
    summary="A tenant's client report as CSV",
    tags=["Reports"],
    openapi_extra=_csv_response("The report as CSV (UTF-8 with a byte order mark)."),
)
def client_report_csv(request: HttpRequest, slug: PathSlug, period: Query[PeriodQuery]):
    """The same report as the report page's CSV export (an export is audited)."""
    report = _report(request.auth, slug, period)
    record(
        "report.export",
        actor=request.auth.user,
        tenant=report.tenant,
        target=(
            "report",
            report.tenant.slug,
            f"Provisioning report {report.start} to {report.end}",
        ),
        after={"start": report.start.isoformat(), "end": report.end.isoformat(), "format": "csv"},
        request=request,
    )
    response = HttpResponse(export.report_csv(report), content_type=CSV)
    response["Content-Disposition"] = f'attachment; filename="{export.filename(report)}"'
    return response


# -- the audit trail --------------------------------------------------------------------------


class AuditQuery(Schema):
    tenant: str | None = Field(
        None,
        max_length=60,
        pattern=r"^([-a-zA-Z0-9_]{1,60}|@msp)$",
        description="A tenant's slug, or @msp for the MSP-wide events (MSP admins).",
    )
    action: str | None = Field(
        None,
        max_length=100,
        pattern=r"^[a-z0-9_.*-]+$",
        description='Exactly ("job.retry") or a prefix ("directory." or "directory").',
    )
    actor: str | None = text(150, "The actor's username, or system / webhook.")
    target_type: str | None = text(100, "The target's type, e.g. provisioning.identity.")
    target_id: str | None = text(64, "The target's id.")
    q: str | None = text(100, "Contained in the target's name, any case.")
    result: Literal["success", "failure", "denied"] | None = None
    since: When | None = Field(None, description="At or after this time.")
    until: When | None = Field(None, description="Before this time.")


class AuditEventOut(Schema):
    id: int
    timestamp: datetime
    tenant: str | None = Field(description="The tenant's slug; null for MSP-wide events.")
    actor: str = Field(description="The actor's username, or system / webhook.")
    actor_display: str
    action: str
    result: str
    target_type: str
    target_id: str
    target: str
    before: Any = Field(description="The target before the change (JSON), if recorded.")
    after: Any = Field(description="The target after the change (JSON), if recorded.")
    job_id: str
    request_id: str
    # The rest of what the event's hash covers, losslessly (as the CSV export's columns), so
    # that an auditor can check the JSON as docs/audit.md checks a CSV export.
    timestamp_utc: str = Field(description="The time in UTC with microseconds and offset.")
    actor_kind: str
    actor_username: str
    actor_user_id: int | None
    tenant_id: int | None
    tenant_name: str
    client_request_id: str
    source_ip: str | None
    chain: str
    seq: int
    prev_hash: str
    hash: str
    key_id: str

    @staticmethod
    def of(event: AuditEvent, slugs: dict[int, str]) -> dict:
        return {
            "id": event.pk,
            "timestamp": event.timestamp,
            "tenant": slugs.get(event.tenant_id) if event.tenant_id is not None else None,
            "actor": event.actor_username or event.actor_kind,
            "actor_display": event.actor_display,
            "action": event.action,
            "result": event.result,
            "target_type": event.target_type,
            "target_id": event.target_id,
            "target": event.target_display,
            "before": event.before,
            "after": event.after,
            "job_id": event.job_id,
            "request_id": event.request_id,
            "timestamp_utc": audit_csv.utc_timestamp(event.timestamp),
            "actor_kind": event.actor_kind,
            "actor_username": event.actor_username,
            "actor_user_id": event.actor_user_id,
            "tenant_id": event.tenant_id,
            "tenant_name": event.tenant_name,
            "client_request_id": event.client_request_id,
            "source_ip": event.source_ip,
            "chain": event.chain_key,
            "seq": event.seq,
            "prev_hash": event.prev_hash,
            "hash": event.hash,
            "key_id": event.key_id,
        }


def _audit_scope(token: ApiToken) -> audit_queries.Scope:
    """The person's audit scope narrowed by the token: a token made for some tenants never
    reads the MSP-wide chain, not even once their rows are gone."""
    rows = scope.tenants_of(token).order_by("name").values_list("id", "slug", "name")
    narrowed = scope.names_tenants(token)
    access.require_role(token.user, access.READ_ROLES)
    msp_admin = access.is_msp_admin(token.user)
    return audit_queries.Scope(
        tuple(audit_queries.TenantRef(*row) for row in rows), msp_admin and not narrowed
    )


def _events(token: ApiToken, query: AuditQuery):
    audit_scope = _audit_scope(token)
    return audit_scope, audit_queries.filtered_events(audit_scope, _filters_of(query))


def _filters_of(query: AuditQuery) -> audit_queries.AuditFilters:
    return audit_queries.AuditFilters(
        tenant=query.tenant or "",
        actor=query.actor or "",
        action=query.action or "",
        target_type=query.target_type or "",
        target_id=query.target_id or "",
        text=query.q or "",
        result=query.result or "",
        since=query.since,
        until=query.until,
    )


@router.get(
    "/audit-events",
    response={200: Page[AuditEventOut], **ERRORS},
    summary="Search the audit trail",
    tags=["Audit"],
)
def list_audit_events(request: HttpRequest, filters: Query[AuditQuery], page: Query[PageQuery]):
    """The audit events you may read (as on the audit page), newest first."""
    audit_scope, events = _events(request.auth, filters)
    slugs = {t.id: t.slug for t in audit_scope.tenants}
    return page_of(events, page, lambda event: AuditEventOut.of(event, slugs))


@router.get(
    "/audit-events.csv",
    response={**ERRORS},
    summary="Export the audit trail as CSV",
    tags=["Audit"],
    openapi_extra=_csv_response(
        f"The matching events as CSV, newest first. More than {MAX_AUDIT_EXPORT_ROWS:,} is a "
        "400: narrow the period."
    ),
)
def export_audit_events(request: HttpRequest, filters: Query[AuditQuery]):
    """The same columns as the audit page's export; streamed."""
    audit_scope, events = _events(request.auth, filters)
    newest = audit_queries.newest_first(events)
    if newest[MAX_AUDIT_EXPORT_ROWS : MAX_AUDIT_EXPORT_ROWS + 1].exists():
        raise HttpError(
            400,
            f"More than {MAX_AUDIT_EXPORT_ROWS:,} events match: narrow the period "
            "(since, until) or the filters, and export in parts.",
        )
    exported = record_export(
        audit_scope,
        _filters_of(filters),
        events,
        actor=request.auth.user,
        request=request,
        via="api",
    )
    response = StreamingHttpResponse(
        audit_csv.stream(audit_queries.newest_first(exported)), content_type=CSV_TABLE
    )
    label = filters.tenant.replace("@msp", "msp-wide") if filters.tenant else "all"
    name = f"audit-{label}-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
