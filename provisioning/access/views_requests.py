"""A tenant's access requests: the list (filterable by status), filing a request, and what
may follow: cancel (the requester or the MSP, while pending), revoke (the MSP or an approver,
once approved: its grant job may still run)
and extend (a new request that needs a new approval)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.fields import PageForm
from portal.models import Role
from portal.next_page import login_required, next_path
from provisioning.access import queries as queries_access
from provisioning.access import services as ar
from provisioning.access.forms import (
    AccessRequestFilter,
    AccessRequestForm,
    AccessRequestQuery,
    ExtendForm,
    posted,
)
from provisioning.access.views import get_request_for
from provisioning.models import AccessRequest
from tenants import access

FILE_ROLES = (Role.MSP_ADMIN, Role.TECHNICIAN, Role.CLIENT_ADMIN)
PER_PAGE = 25


@login_required
@require_GET
def request_list(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    found = AccessRequestFilter(
        request.GET, queryset=queries_access.requests_of(tenant_obj), tenant=tenant_obj
    )
    page_form = PageForm(request.GET)
    page = Paginator(found.qs, PER_PAGE).get_page(page_form.number())
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "tenant": tenant_obj,
        "filter": found,
        "page": page,
        "page_form": page_form,
        "query": query.urlencode(),
        "can_file": access.may_file_requests(request.user),
        "is_operator": access.may_operate(request.user),
        "revocable": _revocable(request.user, page.object_list),
        "decidable": {
            row.pk
            for row in page.object_list
            if row.status == AccessRequest.Status.PENDING and ar.can_decide(request.user, row)
        },
        "here": request.get_full_path(),
    }
    template = "access/request_list.html"
    return render(request, f"{template}#results" if request.htmx else template, context)


def _revocable(user, rows) -> set[int]:
    """The ids of the page's requests this person may revoke now (its Revoke buttons): who
    may is asked once per resource, not per row."""
    may: dict[int, bool] = {}
    for row in rows:
        if row.status in ar.ENDABLE and row.resource_id not in may:
            may[row.resource_id] = ar.can_revoke(user, row)
    return {row.pk for row in rows if row.status in ar.ENDABLE and may[row.resource_id]}


@login_required
@require_http_methods(["GET", "POST"])
def request_new(request: HttpRequest, tenant: str) -> HttpResponse:
    """File a request: a technician on behalf of someone who asked, or a client admin."""
    tenant_obj = access.get_tenant_for(request.user, tenant, FILE_ROLES)
    initial = AccessRequestQuery(request.GET).prefill()
    form = AccessRequestForm(posted(request), tenant=tenant_obj, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                filed = ar.file_request(
                    data["identity"],
                    data["resource"],
                    reason=data["reason"],
                    ends_at=data["ends_at"],
                    actor=request.user,
                    http_request=request,
                )
            except ar.AccessRequestError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _filed_message(filed))
                return redirect("access_request_detail", tenant=tenant, request_id=filed.pk)
        status = 400
    back = _back(tenant_obj, initial.get("identity"))
    context = {"tenant": tenant_obj, "form": form, "back": back}
    context["only_approver_of"] = ar.only_approver_of(tenant_obj, request.user)
    return render(request, "access/request_form.html", context, status=status)


def _filed_message(filed: AccessRequest) -> str:
    if filed.status == AccessRequest.Status.APPROVED:
        return f"Approved at once by the rule {filed.decided_by_rule}; the grant is under way."
    return "Request filed: its approvers have been told."


def _back(tenant, identity: str | None) -> str:
    if identity and tenant.identities.filter(pk=identity).exists():
        return reverse("identity_detail", kwargs={"tenant": tenant.slug, "identity_id": identity})
    return reverse("access_request_list", kwargs={"tenant": tenant.slug})


@login_required
@require_POST
def request_cancel(request: HttpRequest, tenant: str, request_id: int) -> HttpResponse:
    access_request = get_request_for(request.user, tenant, request_id)
    access.require_requester_or_operator(request.user, access_request.requested_by_id)
    return _act(request, access_request, ar.cancel, "Request cancelled.")


@login_required
@require_POST
def request_revoke(request: HttpRequest, tenant: str, request_id: int) -> HttpResponse:
    access_request = get_request_for(request.user, tenant, request_id)
    access.require_role(request.user, access.REVOKE_ROLES)
    ar.require_revoker(request.user, access_request)
    return _act(
        request,
        access_request,
        ar.revoke,
        "Removing the access: the job takes only what the grant added.",
    )


def _act(request: HttpRequest, access_request: AccessRequest, action, done: str) -> HttpResponse:
    try:
        action(access_request, actor=request.user, http_request=request)
    except ar.AccessRequestError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect(_next(request, access_request))


def _next(request: HttpRequest, access_request: AccessRequest) -> str:
    """Back to the page the button was on (this site only), else the request."""
    default = reverse(
        "access_request_detail",
        kwargs={"tenant": access_request.tenant.slug, "request_id": access_request.pk},
    )
    return next_path(request, request.POST.get("next", ""), default)


@login_required
@require_http_methods(["GET", "POST"])
def request_extend(request: HttpRequest, tenant: str, request_id: int) -> HttpResponse:
    """A longer grant: a new request with the new end, which an approver decides on."""
    access.get_tenant_for(request.user, tenant, FILE_ROLES)
    access_request = get_request_for(request.user, tenant, request_id)
    if access_request.status != AccessRequest.Status.GRANTED:
        messages.error(request, "Only granted access can be extended.")
        return redirect("access_request_detail", tenant=tenant, request_id=request_id)
    if access_request.ends_at is None:
        messages.error(request, ar.NOTHING_TO_EXTEND)
        return redirect("access_request_detail", tenant=tenant, request_id=request_id)
    form = ExtendForm(posted(request), access_request=access_request)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                extension = ar.extend(
                    access_request,
                    ends_at=form.cleaned_data["ends_at"],
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    http_request=request,
                )
            except ar.AccessRequestError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Extension requested: an approver decides on it.")
                return redirect("access_request_detail", tenant=tenant, request_id=extension.pk)
        status = 400
    context = {"tenant": access_request.tenant, "access_request": access_request, "form": form}
    return render(request, "access/request_extend.html", context, status=status)
