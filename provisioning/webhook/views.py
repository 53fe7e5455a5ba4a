"""The HR webhook endpoint, its secret (MSP admins) and the events it received (operators).

The endpoint has no session and no CSRF token: the signature is its authentication
(provisioning/webhook/receive.py).
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from portal import mfa
from portal.fields import PageForm
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from provisioning.models import Batch
from provisioning.webhook import receive, secret, signing
from provisioning.webhook.forms import EventFilter, SecretActionForm
from tenants import access
from tenants.models import RoleTemplate, Tenant

MSP_ADMIN = (Role.MSP_ADMIN,)
EVENTS_PER_PAGE = 50
# a role name the page's shell example can quote as it is (no quote, backslash or dollar)
_SHELL_SAFE = re.compile(r"^[\w .&()-]+$")


@csrf_exempt
def hr_webhook(request: HttpRequest, tenant: str) -> HttpResponse:
    if request.method != "POST":
        # Every answer is JSON (docs/hr-webhook.md), a sender's parser reads this one too.
        return _json_answer(
            receive.Reply(
                405,
                {"error": "method_not_allowed", "message": "Send the event with POST."},
                {"Allow": "POST"},
            )
        )
    return _json_answer(receive.handle(request, tenant))


def _json_answer(reply: receive.Reply) -> HttpResponse:
    response = JsonResponse(reply.body, status=reply.status, headers=reply.headers)
    response["Cache-Control"] = "no-store"
    return response


def _endpoint(request: HttpRequest, tenant: Tenant) -> str:
    return request.build_absolute_uri(reverse("hr_webhook", kwargs={"tenant": tenant.slug}))


@login_required
@require_http_methods(["GET", "POST"])
def hr_webhook_secret(request: HttpRequest, tenant: str) -> HttpResponse:
    """Issue, rotate or remove the secret; a new one is shown in this response only."""
    tenant_obj = access.get_tenant_for(request.user, tenant, MSP_ADMIN)
    form = SecretActionForm(request.POST or None)
    issued = ""
    if request.method == "POST" and form.is_valid():
        if form.cleaned_data["action"] == "remove":
            if secret.remove(tenant_obj, actor=request.user, http_request=request):
                messages.success(request, "Removed the secret: the webhook refuses every request.")
            return redirect("hr_webhook_secret", tenant=tenant_obj.slug)
        if not mfa.reauth_is_fresh(request):  # the key to the tenant's joins and leaves
            return password_again(reverse("hr_webhook_secret", kwargs={"tenant": tenant_obj.slug}))
        issued = secret.rotate(tenant_obj, actor=request.user, http_request=request)
        tenant_obj.refresh_from_db()
    roles = sorted(t.name for t in RoleTemplate.objects.filter(tenant=tenant_obj))
    response = render(
        request,
        "provisioning/hr_webhook_secret.html",
        {
            "tenant": tenant_obj,
            "form": form,
            "issued": issued,
            "endpoint": _endpoint(request, tenant_obj),
            "roles": roles,
            "example_role": next((n for n in roles if _SHELL_SAFE.match(n)), "Sales"),
            "window_minutes": signing.WINDOW_SECONDS // 60,
            "max_kb": receive.MAX_BODY_BYTES // 1024,
        },
    )
    response["Cache-Control"] = "no-store"  # the page may hold the secret
    return response


@login_required
@require_GET
def hr_webhook_events(request: HttpRequest, tenant: str) -> HttpResponse:
    """What the tenant's HR system sent lately, and what became of it."""
    tenant_obj = access.get_tenant_for(request.user, tenant, access.OPERATOR_ROLES)
    filters = EventFilter(request.GET or None)
    page_form = PageForm(request.GET)
    outcome = filters.cleaned_data["outcome"] if filters.is_valid() else ""
    events = tenant_obj.hr_events.select_related("job")
    if outcome:
        events = events.filter(outcome=outcome)
    context = {
        "tenant": tenant_obj,
        "filters": filters,
        "page": Paginator(events, EVENTS_PER_PAGE).get_page(page_form.number()),
        "page_form": page_form,
        "query": urlencode({"outcome": outcome}) if outcome else "",
        "held_batches": Batch.objects.filter(
            tenant=tenant_obj, kind=Batch.Kind.WEBHOOK, status=Batch.Status.HELD
        ),
        "endpoint": _endpoint(request, tenant_obj),
    }
    template = "provisioning/hr_webhook_events.html"
    return render(request, f"{template}#events" if request.htmx else template, context)
