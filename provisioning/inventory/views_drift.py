"""A tenant's drift report (per person: what differs, where, since when, its status) and what
an operator may do about an item: converge it (a reconciliation), accept it (an exception,
with a reason) or dismiss it (with a reason). Actions answer htmx with the person's block,
and a plain POST with a redirect back to the page it came from."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.fields import usable_filters
from portal.next_page import login_required, next_path
from provisioning.inventory import drift_actions, queries_drift
from provisioning.inventory.forms_drift import DriftFilterForm, ReasonForm
from provisioning.inventory.models import Cursor, Drift, Person
from tenants import access

PER_PAGE = 25
UNMANAGED_SAMPLE = 8
TEMPLATE = "inventory/drift_report.html"
BLOCK = "inventory/drift_person.html"


@login_required
@require_GET
def drift_report(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    form = DriftFilterForm(request.GET, tenant=tenant_obj)
    unmanaged = queries_drift.unmanaged_people(tenant_obj)
    context = {
        "tenant": tenant_obj,
        "form": form,
        "can_operate": access.may_operate(request.user),
        "counts": queries_drift.counts_by_status(tenant_obj),
        "reads": Cursor.objects.filter(connection__tenant=tenant_obj).select_related("connection"),
        "unmanaged_count": unmanaged.count(),
        "unmanaged_sample": list(unmanaged.order_by("sort_name", "pk")[:UNMANAGED_SAMPLE]),
        "here": request.get_full_path(),
    }
    usable_filters(form)  # a value that is not valid: marked, left out
    items = form.items(Drift.objects.filter(tenant=tenant_obj))
    has_items = items.filter(person=OuterRef("pk"))
    people = (
        Person.objects.filter(tenant=tenant_obj)
        .filter(Exists(has_items))
        .select_related("identity")
        .order_by("sort_name", "pk")
    )
    page = Paginator(people, PER_PAGE).get_page(form.cleaned_data.get("page"))
    context |= {
        "valid": True,
        "page": page,
        "blocks": queries_drift.blocks(page.object_list, items),
        "query": _query(form),
    }
    return render(request, f"{TEMPLATE}#results" if request.htmx else TEMPLATE, context)


def _query(form) -> str:
    """The valid filters, for page links (a value that is not valid is not carried on)."""
    kept = {k: v for k, v in usable_filters(form).items() if k != "page" and v not in (None, "")}
    return urlencode(kept)


def _item_for(request: HttpRequest, tenant: str, drift_id: int) -> Drift:
    tenant_obj = access.get_tenant_for(request.user, tenant, access.OPERATOR_ROLES)
    return get_object_or_404(
        Drift.objects.select_related("person", "identity", "connection"),
        tenant=tenant_obj,
        pk=drift_id,
    )


@login_required
@require_POST
def drift_converge(request: HttpRequest, tenant: str, drift_id: int) -> HttpResponse:
    item = _item_for(request, tenant, drift_id)
    return _act(
        request,
        item.person,
        lambda: _converged(drift_actions.converge(item, request.user, http_request=request)),
    )


@login_required
@require_POST
def drift_converge_person(request: HttpRequest, tenant: str, person_id: int) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, access.OPERATOR_ROLES)
    person = get_object_or_404(Person, tenant=tenant_obj, pk=person_id)
    return _act(
        request,
        person,
        lambda: _converged(
            drift_actions.converge_person(person, request.user, http_request=request)
        ),
    )


def _converged(job) -> str:
    return (
        f"Reconciliation #{job.pk} queued: the items resolve at the first inventory read "
        "after it ends."
    )


@login_required
@require_POST
def drift_accept(request: HttpRequest, tenant: str, drift_id: int) -> HttpResponse:
    item = _item_for(request, tenant, drift_id)
    return _decide(request, item, drift_actions.accept, "Accepted")


@login_required
@require_POST
def drift_dismiss(request: HttpRequest, tenant: str, drift_id: int) -> HttpResponse:
    item = _item_for(request, tenant, drift_id)
    return _decide(request, item, drift_actions.dismiss, "Dismissed")


def _decide(request: HttpRequest, item: Drift, action, done: str) -> HttpResponse:
    form = ReasonForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(form.errors.get("reason", ["Give a reason."]))
        return _answer(request, item.person, errors, ok=False)

    def act() -> str:
        action(item, form.cleaned_data["reason"], request.user, http_request=request)
        return f"{done}: {item.ref_name or item.get_kind_display().lower()}."

    return _act(request, item.person, act)


def _act(request: HttpRequest, person: Person, act) -> HttpResponse:
    try:
        said = act()
    except drift_actions.DriftError as exc:
        return _answer(request, person, exc.message, ok=False)
    return _answer(request, person, said, ok=True)


def _answer(request: HttpRequest, person: Person, said: str, *, ok: bool) -> HttpResponse:
    """htmx: the person's block again, with what happened; else back where the form was."""
    if request.htmx:
        rows = Drift.objects.filter(person=person).exclude(status=Drift.Status.RESOLVED)
        context = {
            "tenant": person.tenant,
            "block": queries_drift.blocks([person], rows)[0],
            "can_operate": True,
            "said": said,
            "said_ok": ok,
            "here": request.POST.get("next", ""),
        }
        # htmx swaps only 2xx answers: a refusal is said inside the block.
        return render(request, BLOCK, context)
    (messages.success if ok else messages.error)(request, said)
    return redirect(_next(request, person))


def _next(request: HttpRequest, person: Person) -> str:
    report = reverse("drift_report", kwargs={"tenant": person.tenant.slug})
    default = f"{report}?person={person.pk}#drift-person-{person.pk}"
    return next_path(request, request.POST.get("next", ""), default)
