"""The audit trail pages: search, keyset pages, a streamed CSV export, "Verify integrity".

Every read goes through reports.audit_queries (scoped to the person's tenants); the one
write, the integrity check, through reports.audit_verify.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from portal.audit.models import AuditEvent
from portal.audit.wording import ACTION_WORDS
from portal.csv_cells import CSV_TABLE
from portal.fields import usable_filters
from portal.models import Role, has_role
from portal.next_page import login_required
from reports import audit_csv, audit_diff, audit_queries
from reports.audit_exports import record_export
from reports.audit_forms import AuditFilterForm, CursorForm, VerifyForm
from reports.audit_verify import verify_integrity
from tenants import access

CURSOR_PARAMS = ("before", "after")


@dataclass
class EventRow:
    event: AuditEvent
    diff: list[audit_diff.DiffLine]
    changes: int
    tenant_slug: str  # "" for the global chain or a tenant that is gone


@login_required
@require_GET
def audit_list(request: HttpRequest) -> HttpResponse:
    scope, form = _filter_form(request)
    with timezone.override(_zone(request, scope)):
        return _audit_list(request, scope, form)


def _audit_list(
    request: HttpRequest, scope: audit_queries.Scope, form: AuditFilterForm
) -> HttpResponse:
    cursors = CursorForm(request.GET)
    cursor = cursors.cursor()
    if not cursors.is_valid():
        messages.warning(request, "That page link is not valid: showing the newest events.")
    page = audit_queries.audit_page(request.user, form.filters(), cursor, scope=scope)
    slugs = {t.id: t.slug for t in scope.tenants}
    context = {
        "form": form,
        "page": page,
        "rows": [_row(event, slugs) for event in page.events] if page else [],
        "query": _query(request),
        # the filters the page applied: a value it left out is not exported either
        "export_query": urlencode(
            {k: v for k, v in usable_filters(form).items() if v not in (None, "")}
        ),
        "cursor": cursor,
        "verify_form": VerifyForm(initial={"tenant": request.GET.get("tenant")}, scope=scope)
        if scope.msp_admin
        else None,
        "time_zone": timezone.get_current_timezone_name(),
        "only_tenant": scope.only_tenant,
        # Every row of one tenant's trail would name it: the column goes (the export keeps it).
        "tenant_column": not (scope.only_tenant or usable_filters(form).get("tenant")),
        "action_words": sorted(ACTION_WORDS.items(), key=lambda item: item[1]),
        "nav_section": "audit",
    }
    template = "reports/audit.html"
    return render(request, f"{template}#results" if request.htmx else template, context)


@login_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponse:
    scope, form = _filter_form(request)
    # A value that is not valid is left out, as the page leaves it out (usable_filters); the
    # From/To days are the page's (its zone); the file's times are UTC, with the offset.
    with timezone.override(_zone(request, scope)):
        filters = form.filters()
    events = audit_queries.filtered_events(scope, filters)
    events = record_export(scope, filters, events, actor=request.user, request=request, via="page")
    response = StreamingHttpResponse(
        audit_csv.stream(audit_queries.newest_first(events)), content_type=CSV_TABLE
    )
    name = f"audit-{_file_label(filters.tenant, scope)}-{dt.date.today():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@require_POST
def audit_verify(request: HttpRequest) -> HttpResponse:
    access.require_role(request.user, (Role.MSP_ADMIN,))
    form = VerifyForm(request.POST, scope=audit_queries.scope_for(request.user))
    if not form.is_valid():
        messages.error(request, "Choose whose audit trail to verify.")
        return redirect("audit_list")
    slug = form.cleaned_data["tenant"]
    outcome = verify_integrity(request.user, slug, http_request=request)
    if outcome.ok:
        messages.success(
            request,
            f"The audit trail of {outcome.trail} is intact: "
            f"{outcome.events_checked} event(s) checked.",
        )
    else:
        messages.error(
            request,
            f"The audit trail of {outcome.trail} is broken after "
            f"{outcome.events_checked} intact event(s). First break: {outcome.first_break}",
        )
    return redirect(f"{reverse('audit_list')}?{urlencode({'tenant': slug})}")


def _filter_form(request: HttpRequest) -> tuple[audit_queries.Scope, AuditFilterForm]:
    """The person's scope and the filters; a tenant outside the scope is 404 whatever else
    the filters say."""
    scope = audit_queries.scope_for(request.user)
    if tenant := request.GET.get("tenant", "").strip():
        audit_queries.require_tenant(scope, tenant)
    plain = not has_role(request.user, (Role.MSP_ADMIN, Role.TECHNICIAN))
    return scope, AuditFilterForm(request.GET, scope=scope, plain=plain)


def _zone(request: HttpRequest, scope: audit_queries.Scope) -> str:
    """The zone the page tells times and reads From/To days in: one tenant's trail (filtered
    to it, or all a person of one tenant sees) is in the tenant's zone, as its job, person and
    report pages are; a trail across tenants, or the MSP-wide one, in the portal's (UTC)."""
    slug = request.GET.get("tenant", "").strip()
    if not slug and scope.only_tenant:
        slug = scope.only_tenant.slug
    ref = scope.tenant(slug) if slug and slug != audit_queries.GLOBAL else None
    return (ref and ref.time_zone) or timezone.get_default_timezone_name()


def _file_label(tenant: str, scope: audit_queries.Scope) -> str:
    """The trail exported as a file name's word: the tenant's slug (filtered to it, or the
    one tenant a person sees), "msp-wide" or "all"."""
    if tenant == audit_queries.GLOBAL:
        return "msp-wide"
    if not tenant and scope.only_tenant:
        return scope.only_tenant.slug
    return tenant or "all"


def _query(request: HttpRequest) -> str:
    """The filters of this request without its cursor, for page links and the export."""
    query = request.GET.copy()
    for name in CURSOR_PARAMS:
        query.pop(name, None)
    return query.urlencode()


def _row(event: AuditEvent, slugs: dict[int, str]) -> EventRow:
    lines = audit_diff.named_licences(event.action, audit_diff.diff(event.before, event.after))
    slug = slugs.get(event.tenant_id, "") if event.tenant_id is not None else ""
    return EventRow(event, lines, audit_diff.changed_count(lines), slug)
