"""Access request pages: one request, and its decision (inline, by htmx, reason required)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from portal.fields import query_flag
from portal.middleware import note_refusal
from portal.models import role_of
from portal.next_page import login_required
from provisioning.access import services as ar
from provisioning.access.forms import DecisionForm
from provisioning.models import AccessRequest
from tenants import access

DECIDED_EVENT = "access-decided"
# An approved request's panel polls while its grant (or an ending's removal) runs; the answer
# that shows it done says so, and the client's home fetches its people and jobs again.
SETTLED_EVENT = "access-settled"
UNSETTLED = (AccessRequest.Status.APPROVED, AccessRequest.Status.ENDING)


def get_request_for(user, tenant_slug: str, request_id: int) -> AccessRequest:
    """A request of a tenant this person may see (else 404)."""
    tenant = access.get_tenant_for(user, tenant_slug)
    return get_object_or_404(
        AccessRequest.objects.select_related(
            "tenant", "identity", "resource__connection", "requested_by", "decided_by"
        ),
        tenant=tenant,
        pk=request_id,
    )


def _context(request: HttpRequest, access_request: AccessRequest, form=None) -> dict:
    user = request.user
    return {
        "tenant": access_request.tenant,
        "access_request": access_request,
        "can_decide": access_request.status == AccessRequest.Status.PENDING
        and ar.can_decide(user, access_request),
        "is_requester": access_request.requested_by_id == user.pk,
        "can_revoke": ar.offers_revoke(user, access_request),
        "form": form or DecisionForm(),
        "approvers": ar.approvers_of(access_request.resource),
        "role": role_of(user),
        # Rendered inside another page (the client home): ids made unique per request.
        "inline": query_flag(request.GET, "inline") or query_flag(request.POST, "inline"),
    }


@login_required
@require_GET
def request_detail(request: HttpRequest, tenant: str, request_id: int) -> HttpResponse:
    access_request = get_request_for(request.user, tenant, request_id)
    template = "access/request_detail.html"
    context = _context(request, access_request)
    if not request.htmx:
        return render(request, template, context)
    response = render(request, f"{template}#decision", context)
    if access_request.status not in UNSETTLED:
        response["HX-Trigger"] = SETTLED_EVENT
    return response


@login_required
@require_POST
def request_decide(request: HttpRequest, tenant: str, request_id: int) -> HttpResponse:
    """Approve or deny; with htmx, the decision panel is swapped in place."""
    access_request = get_request_for(request.user, tenant, request_id)
    form = DecisionForm(request.POST)
    status = 200
    refusal = ""
    if not ar.can_decide(request.user, access_request):  # who they are, before what they sent
        form, refusal, status = None, ar.why_not(request.user, access_request), 403
        note_refusal(request, refusal)
    elif form.is_valid():
        decide = ar.approve if form.cleaned_data["decision"] == "approve" else ar.deny
        try:
            decide(
                access_request,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                http_request=request,
            )
            access_request.refresh_from_db()
            if not request.htmx:  # in place, the swapped panel says it; a flash would linger
                messages.success(request, f"Request {access_request.get_status_display().lower()}.")
            form = None
        except ar.AccessRequestError as exc:
            form.add_error(None, exc.message)
            status = 409
    else:
        status = 400
    if not request.htmx and status == 200:
        return redirect("access_request_detail", tenant=tenant, request_id=request_id)
    template = "access/request_detail.html"
    context = {**_context(request, access_request, form), "refusal": refusal}
    response = render(
        request, f"{template}#decision" if request.htmx else template, context, status=status
    )
    if status == 200:  # the waiting counts on the page listen for it and fetch themselves again
        response["HX-Trigger"] = DECIDED_EVENT
    return response
