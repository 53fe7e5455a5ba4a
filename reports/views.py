"""The dashboard, the client reports and their CSV.

Who lands where on "/": MSP admins and technicians get the operational dashboard; account
managers, who change nothing, get their client reports; client admins (whom the login sends to
their organisation's home) get the overview of their own tenant.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from portal.audit.events import record
from portal.next_page import login_required
from reports import export, licences
from reports.dashboard import COLUMNS, build_dashboard, sort_choices
from reports.forms import PERIODS, DashboardForm, ReportPeriodForm, period_query
from reports.report import build_report, month_headlines
from reports.report_charts import licence_chart, weekly_chart
from tenants import access
from tenants.clock import tenant_today


@login_required
@require_GET
def dashboard(request):
    access.require_role(request.user, access.READ_ROLES)
    if access.is_client_admin(request.user):
        return redirect("client_landing")
    if access.is_account_manager(request.user):
        return redirect("report_index")
    form = DashboardForm(request.GET or None)
    tag, sort = form.choices()
    board = build_dashboard(request.user, tag=tag, sort=sort)
    context = {
        "board": board,
        "filters": form,
        "columns": COLUMNS,
        "sort_choices": sort_choices(board.sort),
        "query": urlencode({"tag": tag}) if tag else "",
        "time_zone": settings.TIME_ZONE,
    }
    template = "reports/dashboard.html"
    return render(request, f"{template}#board" if request.htmx else template, context)


@login_required
@require_POST
def licences_refresh(request, tenant: str):
    """Read the tenant's licence seats from its directories now (not while a page renders)."""
    tenant_obj = access.get_tenant_for(request.user, tenant, access.OPERATOR_ROLES)
    read = licences.refresh(tenant_obj)
    failed = [s.error for s in read if s.error]
    if not read:
        messages.warning(
            request, f"{tenant_obj.name} has no Entra connection to read licences from."
        )
    elif failed:
        messages.error(request, f"Could not read the licences of {tenant_obj.name}: {failed[0]}")
    else:
        messages.success(request, f"Read the licence seats of {tenant_obj.name} just now.")
    query = DashboardForm(request.POST).query()
    return redirect(reverse("dashboard") + (f"?{query}" if query else ""))


@login_required
@require_GET
def report_index(request):
    """The client reports this person may read, with this month's headline figures."""
    access.require_role(request.user, access.READ_ROLES)
    tenants = access.tenants_for(request.user)
    headlines = month_headlines(tenants, timezone.localdate().replace(day=1))
    rows = [(t, headlines.get(t.pk, {})) for t in tenants]
    return render(request, "reports/report_index.html", {"rows": rows, "periods": PERIODS[:4]})


@login_required
@require_GET
def client_report(request, tenant: str):
    tenant_obj = access.get_tenant_for(request.user, tenant)
    form = ReportPeriodForm(request.GET or None, today=tenant_today(tenant_obj))
    period, start, end = form.chosen()
    query = period_query(period, start, end)
    if request.GET and form.is_valid() and _query_of(request) != query and not request.htmx:
        # Dates left over from an earlier choice beside a preset: the address says only
        # what defines the period, so a bookmark or a shared link shows the same report.
        return redirect(f"{request.path}?{query}")
    report = build_report(tenant_obj, start, end)
    context = {
        "tenant": tenant_obj,
        "form": form,
        "period": period,
        "report": report,
        "weekly_chart": weekly_chart(report),
        "licence_chart": licence_chart(report),
        "csv_query": query,
    }
    template = "reports/client_report.html"
    if not request.htmx:
        return render(request, template, context)
    response = render(request, f"{template}#report", context)
    if form.is_valid():
        response["HX-Push-Url"] = f"{request.path}?{query}"
    return response


def _query_of(request) -> str:
    """The period's part of the request's query, in the order period_query writes it."""
    given = {k: request.GET[k] for k in ("period", "start", "end") if request.GET.get(k)}
    return urlencode(given)


@login_required
@require_GET
def client_report_csv(request, tenant: str):
    tenant_obj = access.get_tenant_for(request.user, tenant)
    form = ReportPeriodForm(request.GET or None, today=tenant_today(tenant_obj))
    _period, start, end = form.chosen()
    report = build_report(tenant_obj, start, end)
    record(
        "report.export",
        actor=request.user,
        tenant=tenant_obj,
        target=("report", tenant_obj.slug, f"Provisioning report {start} to {end}"),
        after={"start": start.isoformat(), "end": end.isoformat(), "format": "csv"},
        request=request,
    )
    response = HttpResponse(export.report_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename(report)}"'
    return response
