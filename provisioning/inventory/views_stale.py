"""The stale accounts report of a tenant: a page with filters and pages, and its CSV."""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from portal.audit.events import record
from portal.csv_cells import CSV_TABLE
from portal.fields import renamed_query, usable_filters
from portal.next_page import login_required
from provisioning.inventory import stale
from provisioning.inventory.forms_stale import OLD_NAMES, StaleFilterForm
from tenants import access

PER_PAGE = 50
TEMPLATE = "inventory/stale_report.html"


def _form(request: HttpRequest, tenant) -> tuple[StaleFilterForm, list[stale.Directory]]:
    directories = stale.directories_of(tenant)
    form = StaleFilterForm(request.GET, tenant=tenant, directories=directories)
    return form, directories


@login_required
@require_GET
def stale_report(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    if moved := renamed_query(request, OLD_NAMES):
        return redirect(moved, permanent=True)
    form, directories = _form(request, tenant_obj)
    context = {
        "tenant": tenant_obj,
        "form": form,
        "directories": directories,
        "unknown": [d for d in directories if not d.sign_ins_known],
        "can_operate": access.may_operate(request.user),
    }
    usable_filters(form)  # a value that is not valid: marked, left out
    days = form.stale_days()
    accounts = stale.stale_accounts(tenant_obj, days, directories=directories, **form.filters())
    page = Paginator(accounts, PER_PAGE).get_page(form.cleaned_data.get("page"))
    context |= {
        "valid": True,
        "days": days,
        "page": page,
        "rows": list(stale.rows_of(page.object_list, stale.licence_names(tenant_obj))),
        "query": _query(form),
    }
    return render(request, f"{TEMPLATE}#results" if request.htmx else TEMPLATE, context)


@login_required
@require_GET
def stale_csv(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    if moved := renamed_query(request, OLD_NAMES):
        return redirect(moved, permanent=True)
    form, directories = _form(request, tenant_obj)
    usable_filters(form)  # a value that is not valid is left out, as the page leaves it out
    days = form.stale_days()
    accounts = stale.stale_accounts(tenant_obj, days, directories=directories, **form.filters())
    record(
        "report.export",
        actor=request.user,
        tenant=tenant_obj,
        target=("stale_accounts", tenant_obj.slug, f"Stale accounts, {days} days"),
        after={"days": days, "format": "csv", **_named(form)},
        request=request,
    )
    names = stale.licence_names(tenant_obj)
    response = StreamingHttpResponse(
        stale.csv_stream(accounts, names, tenant_obj), content_type=CSV_TABLE
    )
    name = f"{tenant_obj.slug}-stale-accounts-{days}d-{timezone.now():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _query(form: StaleFilterForm) -> str:
    """The valid filters, for page links and the CSV (a value that is not valid is left out,
    as on the page, so the file holds what the page shows)."""
    kept = {k: v for k, v in usable_filters(form).items() if k != "page" and v not in (None, "")}
    return urlencode(kept)


def _named(form: StaleFilterForm) -> dict:
    return {k: v for k, v in form.cleaned_data.items() if k in ("directory", "managed") and v}
