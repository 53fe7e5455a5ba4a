"""Provisioning pages: onboard a person, jobs (live), people and their desired vs actual state.

Views validate, call one service (or a read-only query), and render; nothing here talks to a
directory except through services.preview_onboarding and queries.directory_views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.audit.models import AuditEvent
from portal.fields import PageForm
from portal.models import Role
from portal.next_page import login_required
from provisioning import queries, services, step_counts
from provisioning.engine.choosing import NO_SEAT
from provisioning.filters import JobFilter
from provisioning.forms import (
    JobChoiceForm,
    OnboardingForm,
    OnboardingPrefillForm,
    TenantPickForm,
)
from provisioning.lifecycle import leave_retries
from provisioning.models import Job, Step
from provisioning.seats import (
    LicenseChoice,
    counts_seats,
    license_choices_for,
    operations_in_words,
    posted_license_choices,
    unanswered_blockers,
)
from tenants import access, clock
from tenants.models import Tenant

OPERATORS = access.OPERATOR_ROLES
ATTRIBUTE_LABELS = queries.ATTRIBUTE_LABELS | {"manager": "Manager"}
JOBS_PER_PAGE = 25


# -- onboarding ----------------------------------------------------------------------------


@login_required
@require_GET
def onboard_start(request: HttpRequest) -> HttpResponse:
    """Pick a tenant to onboard into (straight to the form when there is only one)."""
    access.require_role(request.user, OPERATORS)
    tenants = list(
        access.tenants_for(request.user).filter(is_active=True).prefetch_related("connections")
    )
    pick = TenantPickForm(request.GET)
    if pick.is_valid() and pick.cleaned_data["tenant"]:
        return redirect("onboard", tenant=pick.cleaned_data["tenant"])
    if pick.is_valid() and len(tenants) == 1:
        return redirect("onboard", tenant=tenants[0].slug)
    return render(
        request,
        "provisioning/onboard_start.html",
        {"tenants": tenants, "pick": pick, "nav_section": "onboard"},
        status=200 if pick.is_valid() else 400,
    )


@dataclass
class DirectoryPlan:
    """One directory's dry run, in words."""

    connection: object
    error: str = ""
    operations: list[str] = field(default_factory=list)
    problems: list = field(default_factory=list)
    existing_user: str = ""
    checklist: list = field(default_factory=list)  # work for AD or Exchange, not steps
    seats_counted: bool = False  # it names licences with their seats available


@dataclass
class PreviewView:
    username: str
    directories: list[DirectoryPlan]
    license_choices: list[LicenseChoice]
    blockers: list[str]
    passed_over: str = ""  # the naming rule's first choice, when a numbered one replaces it
    held: str = ""  # where and by whom that address is taken

    @property
    def held_outside_the_portal(self) -> bool:
        """An account of a directory nobody in the portal has: adopted if it is this person."""
        return bool(self.held) and self.held != services.HELD_IN_THE_PORTAL

    @property
    def ready(self) -> bool:
        return not self.blockers


def _describe(preview: services.Preview, posted: dict[str, str]) -> PreviewView:
    directories = []
    for connection, plan, error in preview.plans:
        if plan is None:
            directories.append(DirectoryPlan(connection, error=error))
            continue
        directories.append(
            DirectoryPlan(
                connection,
                operations=operations_in_words(plan),
                problems=plan.problems,
                existing_user=plan.user.username if plan.user else "",
                checklist=plan.checklist,
                seats_counted=counts_seats(plan),
            )
        )
    choices = license_choices_for(preview, posted)
    blockers = [
        f"{c.connection.label} could not be read, so the plan cannot be checked: {c.error}"
        for c in directories
        if c.error
    ]
    blockers += unanswered_blockers(preview, choices, posted)
    return PreviewView(
        preview.username, directories, choices, blockers, preview.passed_over, preview.held
    )


def _dry_run(tenant: Tenant, onboarding, posted: dict[str, str]) -> PreviewView:
    """The service's dry run in words (a directory that cannot be read is one of its plans,
    with the connector's message)."""
    return _describe(services.preview_onboarding(tenant, onboarding), posted)


def _onboard_context(tenant: Tenant, user, form, preview: PreviewView | None) -> dict:
    return {
        "tenant": tenant,
        "tenants": access.tenants_for(user).filter(is_active=True),
        "form": form,
        "preview": preview,
        "plan_errors": _plan_errors(form),
        "plan_missing": _plan_missing(form),
        "quarantined": [c for c in tenant.connections.all() if c.quarantined_at],
        "nav_section": "onboard",
        "sign_in_from": _sign_in_from(tenant, form) if preview else None,
    }


def _sign_in_from(tenant: Tenant, form) -> datetime | None:
    """When a joiner starting ahead may sign in (services.request_onboarding creates their
    accounts now, disabled, and enables them then), in the tenant's zone; None from today."""
    start = form.cleaned_data.get("start_date")
    if start is None or start <= clock.tenant_today(tenant):
        return None
    return clock.start_of_day(tenant, start)


PLAN_CHECKS = ("username", "different_person")  # their errors are the dry run's own


def _plan_errors(form) -> list[str]:
    """What stops the dry run, said beside it: errors of what was typed (a field left blank
    so far is no error yet), the username's and the same-name check's."""
    if not form.is_bound:
        return []
    return [
        f"{field.label}: {' '.join(field.errors)}"
        for field in form
        if field.errors and (field.value() or field.name in PLAN_CHECKS)
    ]


def _plan_missing(form) -> bool:
    """Whether a field the dry run needs is still blank."""
    return form.is_bound and any(
        f.errors and not f.value() and f.name not in PLAN_CHECKS for f in form
    )


@login_required
@require_http_methods(["GET", "POST"])
def onboard(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    form = OnboardingForm(
        request.POST or None, tenant=tenant_obj, initial=_prefill(request, tenant_obj)
    )
    preview = None
    if request.method == "POST" and form.is_valid():
        posted = posted_license_choices(request.POST)
        onboarding = form.onboarding_request(posted)
        preview = _dry_run(tenant_obj, onboarding, posted)
        if preview.ready:
            try:
                job = services.request_onboarding(
                    tenant_obj,
                    onboarding,
                    username=preview.username,
                    actor=request.user,
                    http_request=request,
                )
            except IntegrityError:
                form.add_error(
                    "username", f"{preview.username} was just taken in this portal: try again."
                )
            else:
                messages.success(request, f"Queued the onboarding of {onboarding.display_name}.")
                return redirect("job_detail", job_id=job.pk)
    context = _onboard_context(tenant_obj, request.user, form, preview)
    context["blocked"] = preview is not None and not preview.ready
    return render(request, "provisioning/onboard.html", context)


def _prefill(request: HttpRequest, tenant: Tenant) -> dict:
    """Initial values from the query string: a client admin's request to act links here."""
    if request.method != "GET":
        return {}
    return OnboardingPrefillForm(request.GET, tenant=tenant).prefill()


@login_required
@require_POST
def onboard_preview(request: HttpRequest, tenant: str) -> HttpResponse:
    """htmx: the username and the dry-run plan for what the form holds so far."""
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    form = OnboardingForm(request.POST, tenant=tenant_obj)
    preview = None
    if form.is_valid():
        posted = posted_license_choices(request.POST)
        preview = _dry_run(tenant_obj, form.onboarding_request(posted), posted)
    return render(
        request,
        "provisioning/onboard.html#preview",
        _onboard_context(tenant_obj, request.user, form, preview),
    )


# -- jobs ----------------------------------------------------------------------------------


@login_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    access.require_role(request.user, access.READ_ROLES)
    jobs = JobFilter(request.GET, queryset=queries.jobs_for(request.user), request=request)
    with timezone.override(_job_list_zone(request, jobs)):
        page_form = PageForm(request.GET)
        page = Paginator(jobs.qs, JOBS_PER_PAGE).get_page(page_form.number())
        page.object_list = step_counts.read_so_far(page.object_list)
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "filter": jobs,
            "page": page,
            "page_form": page_form,
            "query": query.urlencode(),
            "time_zone": timezone.get_current_timezone_name(),
        }
        template = "provisioning/job_list.html"
        return render(request, f"{template}#results" if request.htmx else template, context)


def _job_list_zone(request: HttpRequest, jobs: JobFilter) -> str:
    """One tenant's jobs (filtered to it, or all a person of one tenant sees) are timed in
    its zone, as its home, job and audit pages are; across tenants, whose zones differ,
    Created and the date filter are in the portal's."""
    tenant = jobs.form.cleaned_data.get("tenant") if jobs.is_valid() else None
    if tenant is None:
        visible = list(access.tenants_for(request.user)[:2])
        tenant = visible[0] if len(visible) == 1 else None
    return tenant.time_zone if tenant else timezone.get_default_timezone_name()


@login_required
@require_GET
def job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job page; with HX-Request, only its progress partial (polled while not done)."""
    job = queries.get_job_for(request.user, job_id)
    steps = list(job.steps.select_related("connection"))
    step_counts.read_so_far([job])
    context = {
        "job": job,
        "steps": steps,
        "verification": queries.verification_of(job),
        "can_retry": access.may_operate(request.user)
        and job.status in (Job.Status.FAILED, Job.Status.PARTIAL),
        "tenant": job.tenant,
        "auto_retry": leave_retries.state_of(job),
        "auto_retries": leave_retries.auto_retries_of(job),
    }
    if context["can_retry"]:
        # A seat among other failures leaves the job partial, not waiting for a choice: a
        # retry alone fails the same way, so the page says how to get a seat.
        context["seatless"] = [
            step.target_name
            for step in context["steps"]
            if step.status == Step.Status.FAILED and step.error_kind == NO_SEAT
        ]
    if job.status == Job.Status.NEEDS_CHOICE:
        context["choice_form"] = JobChoiceForm(None, job=job)
        context["can_choose"] = access.may_operate(request.user)
    template = "provisioning/job_detail.html"
    return render(request, f"{template}#progress" if request.htmx else template, context)


@login_required
@require_POST
def job_retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = queries.get_job_for(request.user, job_id, OPERATORS)
    if job.status not in (Job.Status.FAILED, Job.Status.PARTIAL):
        messages.error(request, "Only a failed or partially failed job can be retried.")
    else:
        services.retry_failed_steps(job, actor=request.user, http_request=request)
        messages.success(request, "Queued the failed steps again.")
    return redirect("job_detail", job_id=job.pk)


# -- people (the list is provisioning/inventory/views_people.py: every account) ------------


@login_required
@require_GET
def identity_detail(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    identity = queries.get_identity_for(request.user, tenant, identity_id)
    return render(request, "provisioning/identity_detail.html", _identity_context(identity))


@login_required
@require_GET
def identity_directories(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    """Desired vs actual, read live from each directory: a partial the identity page loads
    (with HX-Request), or the whole page with the comparison filled in."""
    identity = queries.get_identity_for(request.user, tenant, identity_id)
    desired, views = queries.directory_views(identity)
    context = _identity_context(identity) | {"desired": desired, "directory_views": views}
    template = "provisioning/identity_detail.html"
    return render(request, f"{template}#directories" if request.htmx else template, context)


def _identity_context(identity) -> dict:
    events = queries.audit_events_of(identity)
    return {
        "identity": identity,
        "tenant": identity.tenant,
        "jobs": step_counts.read_so_far(identity.jobs.select_related("requested_by")[:50]),
        "waiting_choice": identity.jobs.filter(status=Job.Status.NEEDS_CHOICE).first(),
        "events": events,
        "onboarded_by": _onboarded_by(identity, events),
        "templates": identity.role_templates.all(),
        "managed_in": queries.managed_in(identity),  # None: every directory of the tenant
        # taken over from the directories rather than onboarded by the portal
        "adopted": AuditEvent.objects.filter(
            action="inventory.adopted", target_id=str(identity.pk), tenant_id=identity.tenant_id
        ).exists(),
        "attributes": [
            (label, identity.attributes[name])
            for name, label in ATTRIBUTE_LABELS.items()
            if identity.attributes.get(name)
        ],
    }


def _onboarded_by(identity, events) -> str:
    """Who onboarded them: the staff member, else whoever the onboarding's audit event
    names (the system, the HR webhook, a SCIM client), never a bare dash."""
    if identity.created_by is not None:
        return identity.created_by.get_full_name() or identity.created_by.username
    onboard = next((e for e in reversed(events) if e.action == "identity.onboard"), None)
    if onboard is not None:
        return onboard.actor_label
    return "the system"


# -- quarantine ----------------------------------------------------------------------------


@login_required
@require_POST
def connection_release(request: HttpRequest, tenant: str, connection_id: int) -> HttpResponse:
    connection = access.get_connection_for(request.user, tenant, connection_id, (Role.MSP_ADMIN,))
    if connection.quarantined_at is None:
        kind = connection.label
        messages.info(request, f"The {kind} connection is not quarantined.")
    else:
        resumed = services.release_connection(connection, actor=request.user, http_request=request)
        messages.success(
            request,
            f"Released the {connection.label} connection; "
            f"{resumed} waiting job{'s' if resumed != 1 else ''} resumed.",
        )
    return redirect(reverse("tenant_detail", kwargs={"tenant": connection.tenant.slug}))


@login_required
@require_POST
def job_choose(request: HttpRequest, job_id: int) -> HttpResponse:
    """A job that stopped for a choice: the person's licence choice, then the job again."""
    job = queries.get_job_for(request.user, job_id, OPERATORS)
    if job.status != Job.Status.NEEDS_CHOICE:
        messages.error(request, "This job does not wait for a choice any more.")
        return redirect("job_detail", job_id=job.pk)
    form = JobChoiceForm(request.POST, job=job)
    if not form.is_valid():
        messages.error(request, "Choose one of the options offered for each licence.")
        return redirect("job_detail", job_id=job.pk)
    services.choose_licences(job, form.license_choices(), actor=request.user, http_request=request)
    messages.success(request, "Choice recorded: the job runs again with it.")
    return redirect("job_detail", job_id=job.pk)
