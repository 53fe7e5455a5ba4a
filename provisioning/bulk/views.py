"""Bulk pages: upload a CSV, preview every row, queue the valid ones, watch them run.

Technicians and MSP admins of the tenant only; a held offboarding batch waits for an MSP
admin. The views parse with a form, call one function of provisioning.bulk.service and
redirect; the batch page's progress partial is polled by htmx until nothing is left to run.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import dateformat
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.audit.events import record
from portal.csv_cells import CSV_TABLE
from portal.fields import PageForm
from portal.models import Role
from portal.next_page import login_required
from provisioning.bulk import choices, columns, dry_run, export, service
from provisioning.bulk.forms import (
    SHOW,
    BatchRowsForm,
    CappedUploadHandler,
    OffboardingOptionsForm,
    UploadForm,
)
from provisioning.models import Batch, BatchRow
from tenants import access
from tenants.models import Tenant

OPERATORS = access.OPERATOR_ROLES
ADMINS = (Role.MSP_ADMIN,)
ROWS_PER_PAGE = 250
BATCHES_PER_PAGE = 25


def _batch_for(user, slug: str, batch_id: int, roles=OPERATORS) -> Batch:
    tenant = access.get_tenant_for(user, slug, roles)
    return get_object_or_404(Batch.objects.select_related("tenant", "created_by"), tenant=tenant,
                             pk=batch_id)  # fmt: skip


def _kind(request: HttpRequest) -> str:
    kind = request.GET.get("kind", "")
    return kind if kind in columns.KINDS else columns.ONBOARD


# -- list and upload --------------------------------------------------------------------------


@login_required
@require_GET
def batch_list(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    batches = Batch.objects.filter(tenant=tenant_obj).select_related("created_by")
    page_form = PageForm(request.GET)
    page = Paginator(batches, BATCHES_PER_PAGE).get_page(page_form.number())
    shown = service.progresses(page)
    for batch in page:
        batch.progress = shown[batch.pk]
    context = {"tenant": tenant_obj, "page": page, "page_form": page_form}
    return render(request, "provisioning/bulk_list.html", context)


@csrf_exempt  # so that the upload handler goes in before the body is read; csrf_protect below
@login_required
def bulk_upload(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    handler = None
    if request.method == "POST":
        handler = CappedUploadHandler(request)
        request.upload_handlers.insert(0, handler)
    return _upload(request, tenant_obj, handler)


@csrf_protect
@require_http_methods(["GET", "POST"])
def _upload(request: HttpRequest, tenant: Tenant, handler) -> HttpResponse:
    kind = _kind(request)
    posted = request.method == "POST"
    form = UploadForm(
        request.POST if posted else None,
        request.FILES if posted else None,
        too_large=handler.too_large if handler else None,
    )
    options = None
    if kind == columns.OFFBOARD:
        options = OffboardingOptionsForm(request.POST if posted else None, tenant=tenant)
    if posted and form.is_valid() and (options is None or options.is_valid()):
        batch = _store(request, tenant, kind, form, options)
        if batch is not None:
            return redirect("bulk_batch", tenant=tenant.slug, batch_id=batch.pk)
    context = {
        "tenant": tenant,
        "kind": kind,
        "form": form,
        "options_form": options,
        "columns": columns.shown(kind, has_okta=bool(options and options.has_okta)),
        "limits": {"rows": f"{columns.MAX_ROWS:,}", "mb": columns.MAX_BYTES // 1024 // 1024},
    }
    return render(request, "provisioning/bulk_upload.html", context)


def _store(request, tenant: Tenant, kind: str, form: UploadForm, options) -> Batch | None:
    """The validated batch, or None with the file's problem on the form."""
    try:
        return service.upload(
            tenant,
            kind,
            form.cleaned_data["file"].name,
            form.read(),
            actor=request.user,
            offboarding=options.options() if options else None,
            http_request=request,
        )
    except service.BadFile as exc:
        form.add_error("file", str(exc))
    return None


@login_required
@require_GET
def bulk_template(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    kind = _kind(request)
    response = HttpResponse(
        "\ufeff" + export.template_csv(tenant_obj, kind), content_type=CSV_TABLE
    )
    response["Content-Disposition"] = f'attachment; filename="{tenant_obj.slug}-{kind}.csv"'
    return response


# -- one batch --------------------------------------------------------------------------------


@login_required
@require_GET
def batch_detail(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    """The preview of a validated batch, or the progress of a started one; with HX-Request,
    only the progress partial (polled while jobs are queued or running)."""
    batch = _batch_for(request.user, tenant, batch_id)
    # Counted before the rows are read: a job the worker ends in between then reads done in
    # its row and running in the counts (polled again), never the reverse (a "finished" batch
    # that stops polling above a row still running).
    progress = service.progress(batch)
    query = BatchRowsForm(request.GET)
    show = query.show_value()
    rows = batch.rows.select_related("job", "identity").order_by("line")
    with_problems = Q(data__problems__0__isnull=False)
    if show == "errors":
        rows = rows.exclude(errors=[])
    elif show == "choice":
        rows = rows.filter(with_problems, errors=[])
    elif show == "valid":
        rows = rows.filter(errors=[]).exclude(with_problems)
    page = Paginator(rows, ROWS_PER_PAGE).get_page(query.number())
    for row in page:
        row.shown = _shown(row)
    context = {
        **_choices_context(batch, page),
        "tenant": batch.tenant,
        "batch": batch,
        "kind": service.file_kind(batch),
        "page": page,
        "show": show,
        "filters": SHOW,
        "query_form": query,
        "progress": progress,
        "notes": list(
            dict.fromkeys(batch.options.get("notes", []) + batch.options.get("choice_notes", []))
        ),
        "invalid": batch.rows.exclude(errors=[]).count(),
        "seats_counted": any(_plan_names_seats(row) for row in page),
        "is_admin": access.is_msp_admin(request.user),
    }
    pending = batch.status == Batch.Status.VALIDATED and batch.kind == Batch.Kind.CSV_OFFBOARD
    if pending:
        leavers = set(batch.rows.filter(errors=[]).values_list("identity_id", flat=True))
        context["will_hold"] = service.hold_reason(batch, leavers - {None})
    template = "provisioning/bulk_batch.html"
    return render(request, f"{template}#progress" if request.htmx else template, context)


def _plan_names_seats(row: BatchRow) -> bool:
    """Whether the row shows a plan (valid, not yet a job) that names seats available."""
    return bool(row.data.get("seats_counted")) and not row.errors and row.job_id is None


def _choices_context(batch: Batch, page) -> dict:
    """The rows that need a choice, their questions, and those for all rows alike."""
    if batch.status != Batch.Status.VALIDATED or batch.kind != Batch.Kind.CSV_ONBOARD:
        return {"shared_questions": [], "need_choice": 0}
    per_row, shared = choices.questions(batch.rows.order_by("line"))
    for row in page:
        row.questions = per_row.get(row.pk, [])
        row.needs_choice = row.pk in per_row
    return {"shared_questions": shared, "need_choice": len(per_row)}


def _posted_choices(request: HttpRequest, batch: Batch) -> bool:
    """Apply the choices posted with the preview; False (with a message) when they leave a
    row that was given a choice still without a way through."""
    rows = list(batch.rows.order_by("line"))
    per_row, shared = choices.questions(rows)
    if not per_row:
        return True
    form = choices.RowChoicesForm(request.POST, per_row, shared)
    if not form.is_valid():
        messages.error(request, "A choice was not one of those offered: choose again.")
        return False
    stored = {row.pk: dry_run.RowChoice.of(row.data) for row in rows}
    answers = form.row_choices(stored)
    if not answers:
        return True
    service.choose(batch, answers, actor=request.user, http_request=request)
    still = [
        row.line
        for row in batch.rows.filter(pk__in=answers).order_by("line")
        if dry_run.needs_choice(row)
    ]
    if still:
        lines = ", ".join(str(line) for line in still)
        messages.warning(
            request, f"Line{'s' if len(still) > 1 else ''} {lines} still need a choice: see below."
        )
        return False
    return True


@login_required
@require_POST
def batch_choose(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    """Keep the choices made on the preview and check every row again with them."""
    batch = _batch_for(request.user, tenant, batch_id)
    try:
        if _posted_choices(request, batch):
            messages.success(request, "Checked every row again with your choices.")
    except service.BatchError as exc:
        messages.error(request, str(exc))
    return redirect("bulk_batch", tenant=batch.tenant.slug, batch_id=batch.pk)


def _shown(row) -> dict[str, str]:
    """What the rows table shows of a row: the resolved value, else what the file said."""
    cells = row.data.get("input", {})
    return {
        "name": f"{cells.get('first_name', '')} {cells.get('last_name', '')}".strip(),
        "role": cells.get("role", ""),
        "start": _day(row.data.get("start_date")) or cells.get("start_date", ""),
        "username": row.data.get("username") or cells.get("username", ""),
        "who": cells.get("username") or cells.get("employee_id", ""),
        "leave": cells.get("leave_at") or "now",
    }


def _day(iso: str | None) -> str:
    """A row's start day in the words of every other page ("7 Dec 2026", as the person page
    says it); a cell that is no date is shown as the file has it, by the caller."""
    return dateformat.format(date.fromisoformat(iso), "j M Y") if iso else ""


@login_required
@require_POST
def batch_start(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    batch = _batch_for(request.user, tenant, batch_id)
    try:
        if not _posted_choices(request, batch):
            return redirect("bulk_batch", tenant=batch.tenant.slug, batch_id=batch.pk)
        unanswered = sum(1 for row in batch.rows.all() if dry_run.needs_choice(row))
        started = service.start(batch, actor=request.user, http_request=request)
    except service.BatchError as exc:
        messages.error(request, str(exc))
    except IntegrityError:
        messages.error(request, "Someone changed these people meanwhile: upload the file again.")
    else:
        text = f"Queued {started.jobs} row{'s' if started.jobs != 1 else ''}."
        if started.skipped:
            text += f" {started.skipped} changed since the check and were left out."
        if unanswered:
            text += f" {unanswered} without a choice left out."
        if started.held:
            text = f"Held {started.jobs} offboardings: an MSP admin must confirm them."
        (messages.warning if started.held else messages.success)(request, text)
    return redirect("bulk_batch", tenant=batch.tenant.slug, batch_id=batch.pk)


@login_required
@require_POST
def batch_discard(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    batch = _batch_for(request.user, tenant, batch_id)
    try:
        service.discard(batch, actor=request.user, http_request=request)
    except service.BatchError as exc:
        messages.error(request, str(exc))
        return redirect("bulk_batch", tenant=batch.tenant.slug, batch_id=batch.pk)
    messages.success(request, f"Discarded {batch.filename}; nothing was queued.")
    return redirect("bulk_list", tenant=batch.tenant.slug)


@login_required
@require_GET
def batch_result(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    batch = _batch_for(request.user, tenant, batch_id)
    # The rows of people it hands out: an export, audited as each report's is.
    record(
        "report.export",
        actor=request.user,
        tenant=batch.tenant,
        target=("batch", batch.pk, f"Result of {batch}"),
        after={"format": "csv"},
        request=request,
    )
    response = HttpResponse("\ufeff" + export.result_csv(batch), content_type=CSV_TABLE)
    response["Content-Disposition"] = (
        f'attachment; filename="{batch.tenant.slug}-batch-{batch.pk}-result.csv"'
    )
    return response
