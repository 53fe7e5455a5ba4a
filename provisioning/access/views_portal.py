"""The client admin's part of the portal: their tenant's home (pending approvals first, then
their people, recent jobs and the audit trail), requests to act (a client admin asks the MSP to
onboard or offboard someone; technicians carry them out), and anyone's e-mail settings."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import preferences
from portal.models import Role
from portal.next_page import login_required
from provisioning.access import action_requests
from provisioning.access import queries as queries_access
from provisioning.access import services as ar
from provisioning.access.forms import (
    ACTION_FORMS,
    ActionRequestQuery,
    DeclineForm,
    EmailSettingsForm,
    MarkDoneForm,
    posted,
)
from provisioning.access.views import DecisionForm
from provisioning.models import AccessRequest, ActionRequest, Identity
from tenants import access

OPERATORS = access.OPERATOR_ROLES
CLIENT_ADMIN = (Role.CLIENT_ADMIN,)
ONBOARD_PREFILL = ("first_name", "last_name", "start_date", "job_title")
HOME_PEOPLE = 20  # people on a client's home page, the latest managed first


# -- the client admin's home ------------------------------------------------------------------


@login_required
@require_GET
def client_landing(request: HttpRequest) -> HttpResponse:
    """A client admin's home is their organisation's page (they have one tenant)."""
    if access.is_client_admin(request.user):
        mine = access.tenants_for(request.user).order_by("name").first()
        if mine is not None:
            return redirect("client_home", tenant=mine.slug)
    return redirect("dashboard")


@login_required
@require_GET
def client_home(request: HttpRequest, tenant: str) -> HttpResponse:
    """One tenant as its client admin sees it; MSP staff may look at it the same way."""
    tenant_obj = access.get_tenant_for(request.user, tenant)
    user = request.user
    mine = set(ar.waiting_for(user).filter(tenant=tenant_obj).values_list("pk", flat=True))
    pending = list(
        queries_access.requests_of(tenant_obj).filter(status=AccessRequest.Status.PENDING)
    )
    pending.sort(key=lambda r: (r.pk not in mine, r.created_at))
    context = {
        "tenant": tenant_obj,
        "approvals": [
            {"request": r, "can_decide": r.pk in mine, "is_requester": r.requested_by_id == user.pk}
            for r in pending
        ],
        "waiting_here": len(mine),
        "any_pending": bool(pending),
        "form": DecisionForm(),
        **_what_decisions_change(tenant_obj, user),
        "action_requests": tenant_obj.action_requests.select_related("identity", "handled_by")[:10],
        # Their changes wait while a connection is held: the client should know why.
        "quarantined": tenant_obj.connections.filter(quarantined_at__isnull=False),
        "can_file": access.may_file_requests(user),
        "nav_section": "client" if access.is_client_admin(user) else "tenants",
    }
    return render(request, "access/client_home.html", context)


def _what_decisions_change(tenant_obj, user) -> dict:
    """The home's sections a decision or the end of its grant changes: the people with their
    access, the recent jobs, the audit trail."""
    people = queries_access.people_with_access(tenant_obj).order_by("-created_at", "-pk")
    here = people.exclude(status=Identity.Status.LEFT)
    return {
        # The latest few still here only: the People page lists, searches and pages everyone.
        "people": here[:HOME_PEOPLE],
        "people_total": here.count(),
        "people_left": people.filter(status=Identity.Status.LEFT).count(),
        "jobs": queries_access.recent_jobs(tenant_obj),
        "events": queries_access.audit_trail(tenant_obj),
        "is_client_admin": access.is_client_admin(user),
    }


@login_required
@require_GET
def client_home_waiting(request: HttpRequest, tenant: str) -> HttpResponse:
    """The home page's "N requests waiting for your decision", fetched again after a decision
    (the decision answers with the `access-decided` event, the end of its grant with
    `access-settled`), and, out of band, the approvals' heading, which must not say "Pending"
    above the last request once it is decided, and the people, recent jobs and audit trail,
    which a decision and its grant job change."""
    tenant_obj = access.get_tenant_for(request.user, tenant)
    pending = queries_access.requests_of(tenant_obj).filter(status=AccessRequest.Status.PENDING)
    context = {
        "tenant": tenant_obj,
        "waiting_here": ar.waiting_for(request.user).filter(tenant=tenant_obj).count(),
        "any_pending": pending.exists(),
        **_what_decisions_change(tenant_obj, request.user),
        "oob": True,
    }
    return render(request, "access/client_home.html#waiting", context)


@login_required
@require_GET
def waiting_badge(request: HttpRequest) -> HttpResponse:
    """The sidebar's "waiting for you" count alone, fetched again after a decision."""
    access.require_role(request.user, CLIENT_ADMIN)
    return render(request, "access/_client_sidebar.html#badge")


# -- requests to act --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def action_request_new(request: HttpRequest, tenant: str) -> HttpResponse:
    """A client admin asks the MSP to onboard or offboard someone."""
    tenant_obj = access.get_tenant_for(request.user, tenant, CLIENT_ADMIN)
    # The kind the form posts wins over the link's (the form posts to the link's URL).
    query = ActionRequestQuery(request.POST if request.POST.get("kind") else request.GET)
    kind = query.chosen_kind()
    form = ACTION_FORMS[kind](posted(request), tenant=tenant_obj, initial=query.prefill())
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                action_requests.file_action_request(
                    tenant_obj,
                    kind,
                    details=form.details(),
                    note=form.cleaned_data["note"],
                    identity=form.cleaned_data.get("identity"),
                    actor=request.user,
                    http_request=request,
                )
            except action_requests.ActionRequestError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, "Sent to your MSP: a technician takes it from here.")
                return redirect("client_home", tenant=tenant)
        status = 400
    context = {"tenant": tenant_obj, "form": form, "kind": kind, "nav_section": "client"}
    return render(request, "access/action_request_form.html", context, status=status)


@login_required
@require_GET
def action_request_list(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    is_operator = access.may_operate(request.user)
    rows = []
    for item in tenant_obj.action_requests.select_related(
        "identity", "requested_by", "handled_by", "job"
    )[:100]:
        row = {"item": item, "what": action_requests.describe(item)}
        if is_operator and item.status == ActionRequest.Status.OPEN:
            row["act_url"] = _act_url(item)
            row["done_form"] = MarkDoneForm(action_request=item, prefix=f"r{item.pk}")
        rows.append(row)
    context = {"tenant": tenant_obj, "rows": rows, "is_operator": is_operator}
    return render(request, "access/action_request_list.html", context)


def _act_url(item: ActionRequest) -> str:
    """Where a technician carries the request out: the onboarding form, filled in from the
    request, or the person's offboarding wizard."""
    if item.kind == ActionRequest.Kind.OFFBOARD:
        if item.identity is None:
            return ""
        return reverse(
            "offboard", kwargs={"tenant": item.tenant.slug, "identity_id": item.identity_id}
        )
    details = item.details
    query = {k: details[k] for k in ONBOARD_PREFILL if details.get(k)}
    if details.get("role_template"):
        query["role_templates"] = details["role_template"]
    return reverse("onboard", kwargs={"tenant": item.tenant.slug}) + "?" + urlencode(query)


@login_required
@require_POST
def action_request_done(request: HttpRequest, tenant: str, action_request_id: int) -> HttpResponse:
    item = queries_access.get_action_request_for(request.user, tenant, action_request_id, OPERATORS)
    form = MarkDoneForm(request.POST, action_request=item, prefix=f"r{item.pk}")
    if not form.is_valid():
        messages.error(request, "Choose one of the listed jobs, or “no single job”.")
    else:
        _handle(request, action_requests.mark_done, item, job=form.cleaned_data["job"])
    return redirect("action_request_list", tenant=tenant)


@login_required
@require_POST
def action_request_decline(
    request: HttpRequest, tenant: str, action_request_id: int
) -> HttpResponse:
    item = queries_access.get_action_request_for(request.user, tenant, action_request_id, OPERATORS)
    form = DeclineForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["reason"][0])
    else:
        _handle(request, action_requests.decline, item, reason=form.cleaned_data["reason"])
    return redirect("action_request_list", tenant=tenant)


def _handle(request: HttpRequest, action, item: ActionRequest, **kwargs) -> None:
    try:
        action(item, actor=request.user, http_request=request, **kwargs)
    except action_requests.ActionRequestError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{action_requests.describe(item)}: marked {item.status}.")


# -- e-mail settings --------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def email_settings(request: HttpRequest) -> HttpResponse:
    access.require_role(request.user, access.READ_ROLES)
    profile = request.user.profile
    form = EmailSettingsForm(posted(request), initial={"optional_emails": profile.optional_emails})
    if request.method == "POST" and form.is_valid():
        wanted = form.cleaned_data["optional_emails"]
        preferences.set_optional_emails(request.user, wanted, http_request=request)
        messages.success(
            request,
            "Saved: you get every e-mail."
            if wanted
            else "Saved: you get only requests waiting for you and failed grants.",
        )
        return redirect("email_settings")
    return render(request, "access/email_settings.html", {"form": form, "nav_section": "account"})
