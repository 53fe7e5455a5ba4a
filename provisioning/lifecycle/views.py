"""Lifecycle pages: offboard a person, change their role (mover), restore or rehire them, a
tenant's lifecycle settings, the schedule with its held batches, and cancelling jobs.

Views validate with a form and call one function of provisioning/lifecycle/services.py; the dry runs
call its preview functions, which read the directories and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import mfa
from portal.licences import licence_words
from portal.models import Role
from portal.next_page import login_required, next_path
from portal.views import password_again
from provisioning import queries
from provisioning.engine import planner
from provisioning.engine.desired import manages
from provisioning.lifecycle import queries as queries_lifecycle
from provisioning.lifecycle import services as lifecycle
from provisioning.lifecycle.forms import (
    ChangeForm,
    CircuitBreakerForm,
    OffboardingForm,
    PresetForm,
)
from provisioning.models import Batch, Identity, Job, Step
from provisioning.seats import (
    LicenseChoice,
    counts_seats,
    license_choices_for,
    posted_license_choices,
    unanswered_blockers,
    with_seats,
)
from tenants import access
from tenants import services as tenant_services
from tenants.lifecycle_settings import preset_of, save_lifecycle_settings
from tenants.models import DirectoryConnection

OPERATORS = access.OPERATOR_ROLES
MSP_ADMIN = (Role.MSP_ADMIN,)
DIFF_ROWS = {  # action -> (row, added?)
    Step.Action.ADD_GROUP: ("Groups", True),
    Step.Action.REMOVE_GROUP: ("Groups", False),
    Step.Action.ASSIGN_LICENSE: ("Licences", True),
    Step.Action.REMOVE_LICENSE: ("Licences", False),
    Step.Action.ASSIGN_APP: ("Apps", True),
    Step.Action.UNASSIGN_APP: ("Apps", False),
}


# -- dry runs in words -----------------------------------------------------------------------


@dataclass
class DiffRow:
    label: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class DirectoryRun:
    connection: object
    error: str = ""
    operations: list[str] = field(default_factory=list)
    problems: list = field(default_factory=list)
    removed_groups: list[str] = field(default_factory=list)
    diff: list[DiffRow] = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    other: list[str] = field(default_factory=list)  # create, link, enable ...
    checklist: list = field(default_factory=list)  # work for AD or Exchange, not steps
    managed: bool = True  # False: the person is not managed in this directory
    seats_counted: bool = False  # it names licences with their seats available


@dataclass
class DryRun:
    directories: list[DirectoryRun]
    blockers: list[str]
    license_choices: list[LicenseChoice] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.blockers

    @property
    def removed_groups(self) -> list[str]:
        names: dict[str, str] = {}
        for d in self.directories:
            for name in d.removed_groups:
                names.setdefault(name.casefold(), name)
        return sorted(names.values(), key=str.casefold)


def _operation(step, username: str = "") -> str:
    mode = step.params.get("mode") if step.action == Step.Action.DISABLE_USER else None
    if mode and username:
        dropped = ", ".join(a["name"] for a in step.params.get("drops_apps", []))
        if mode == "deactivate":
            return (
                f"Deactivate {username} (drops app assignments{': ' if dropped else ''}{dropped})"
            )
        return f"Suspend {username} (keeps app assignments)"
    if step.action == Step.Action.RESET_PASSWORD:
        return "Reset the password to a random secret (never shown or stored)"
    target = step.target_name
    if step.action in (Step.Action.ASSIGN_LICENSE, Step.Action.REMOVE_LICENSE):
        target = licence_words(target)
    return f"{Step.Action(step.action).label} {target}".strip()


def _directory_run(connection, plan, error: str) -> DirectoryRun:
    if plan is None:
        return DirectoryRun(connection, error=error)
    run = DirectoryRun(connection, problems=list(plan.problems), checklist=list(plan.checklist))
    if plan.not_managed:
        run.problems.append(not_managed_note(connection))
        run.managed = False
    username = plan.user.username if plan.user else ""
    rows: dict[str, DiffRow] = {}
    for step in plan.steps:
        run.operations.append(_operation(step, username))
        if step.action == Step.Action.REMOVE_GROUP:
            run.removed_groups.append(step.target_name)
        if step.action in DIFF_ROWS:
            label, added = DIFF_ROWS[step.action]
            row = rows.setdefault(label, DiffRow(label))
            if step.action == Step.Action.ASSIGN_LICENSE:
                row.added.append(with_seats(step.target_name, plan.license_availability))
            elif step.action == Step.Action.REMOVE_LICENSE:
                row.removed.append(licence_words(step.target_name))
            else:
                (row.added if added else row.removed).append(step.target_name)
        elif step.action == Step.Action.SET_LICENSES:  # a swap in one call (engine/licences.py)
            row = rows.setdefault("Licences", DiffRow("Licences"))
            row.added += [with_seats(n, plan.license_availability) for n in step.params["added"]]
            row.removed += [licence_words(n) for n in step.params["removed"]]
        elif step.action == Step.Action.UPDATE_USER:
            run.attributes |= step.params.get("attributes", {})
        else:
            run.other.append(_operation(step, username))
    run.diff = [rows[label] for label in ("Groups", "Licences", "Apps") if label in rows]
    run.seats_counted = counts_seats(plan)
    return run


def not_managed_note(connection) -> planner.Problem:
    """A directory the person is not managed in, in a dry run's words."""
    message = (
        f"Not in {connection.label}: not managed there. Nothing is read or sent there, "
        "whoever holds this username."
    )
    return planner.Problem("not_managed", message, connection.label, blocking=False)


def _dry_run(preview_of, *, read_errors_block: bool, posted: dict | None = None) -> DryRun:
    """The preview in words (a directory that cannot be read is one of its plans, with the
    connector's message). `posted`: the licence choices answered so far, on a form that
    offers them (a licence with no free seat, or its last one, asks for one)."""
    preview = preview_of()
    directories = [_directory_run(c, plan, error) for c, plan, error in preview.plans]
    choices = [] if posted is None else license_choices_for(preview, posted)
    blockers = unanswered_blockers(preview, choices, posted or {})
    if read_errors_block:
        blockers += [
            f"{d.connection.label} could not be read, so the plan cannot be checked: {d.error}"
            for d in directories
            if d.error
        ]
    return DryRun(directories, blockers, choices)


def _next_or(request: HttpRequest, default: str) -> str:
    return next_path(request, request.POST.get("next", ""), default)


# -- offboarding -----------------------------------------------------------------------------


def _refusal(identity: Identity, lifecycle_state) -> str:
    if identity.status == Identity.Status.LEFT:
        return (
            f"{identity.display_name} has already left: there is nothing to offboard. "
            "Use “Restore” to bring them back."
        )
    if identity.status == Identity.Status.DELETED and identity.deletion:
        return (
            f"{identity.display_name} has left and the account is being deleted "
            f"(job #{identity.deletion['job_id']}): there is nothing to offboard."
        )
    if identity.status == Identity.Status.DELETED:
        return (
            f"{identity.display_name} has left and the account was deleted: "
            "there is nothing to offboard."
        )
    job = lifecycle_state.in_flight_leave
    if job is not None:
        return f"An offboarding of {identity.display_name} is running already (job #{job.pk})."
    return ""


def _group_choices(form: OffboardingForm, dry_run: DryRun | None) -> list[tuple[str, bool]]:
    """(group, kept?) for the checkboxes: the groups the dry run removes and the ones kept
    now; where a directory cannot be read, also the groups the person's roles give, so that
    one of them can still be kept there."""
    kept = form.kept_groups
    offered = [*kept]
    if dry_run is not None:
        offered += dry_run.removed_groups
        if any(d.error for d in dry_run.directories):
            identity = form.identity
            offered += [g for t in identity.role_templates.all() for g in t.groups]
            offered += identity.extra_groups
    names: dict[str, str] = {}
    for name in offered:
        names.setdefault(name.casefold(), name)
    ticked = {name.casefold() for name in kept}
    ordered = sorted(names.values(), key=str.casefold)
    return [(name, name.casefold() in ticked) for name in ordered]


def _deletion(form: OffboardingForm) -> tuple[int | None, datetime | None]:
    """The days the account is kept after the offboarding, and when it would be deleted: that
    many days after the chosen leave time (now, or the date typed; None while it is wrong)."""
    cleaned = getattr(form, "cleaned_data", {})
    days = cleaned.get("delete_after_days", form.initial.get("delete_after_days"))
    if days is None:
        return None, None
    at_a_time = form.is_bound and cleaned.get("when") == "at"
    leave = cleaned.get("at") if at_a_time else timezone.now()
    return days, (leave + timedelta(days=days) if leave else None)


# How the hard delete removes an account, by the kind of directory (connectors' delete_user).
DELETED_AS = {
    DirectoryConnection.Kind.ENTRA: "soft-delete, then purge",
    DirectoryConnection.Kind.OKTA: "deactivate, then delete",
    DirectoryConnection.Kind.SCIM: "delete",
}


def _deletion_ways(dry_run: DryRun | None) -> list[str]:
    """How each of the person's directories deletes the account, for the dry run's note."""
    if dry_run is None:
        return []
    return [
        f"{d.connection.label}: {DELETED_AS[d.connection.kind]}"
        for d in dry_run.directories
        if d.managed
    ]


def _offboard_context(form: OffboardingForm, dry_run: DryRun | None) -> dict:
    identity = form.identity
    delete_after, deletion_at = _deletion(form)
    return {
        "identity": identity,
        "tenant": identity.tenant,
        "form": form,
        "state": queries_lifecycle.lifecycle_of(identity),
        "preview": dry_run,
        "group_choices": _group_choices(form, dry_run),
        "delete_after": delete_after,
        "deletion_at": deletion_at,
        "deletion_ways": _deletion_ways(dry_run),
    }


def _offboard_preview(form: OffboardingForm) -> DryRun | None:
    """Only the options matter to the plan: a date still being typed does not hide it."""
    if not form.is_bound or set(form.errors) - {"at", "when"}:
        return None
    options = form.options()
    return _dry_run(
        lambda: lifecycle.preview_offboarding(form.identity, options), read_errors_block=False
    )


@login_required
@require_http_methods(["GET", "POST"])
def offboard(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    identity = queries.get_identity_for(request.user, tenant, identity_id, OPERATORS)
    refusal = _refusal(identity, queries_lifecycle.lifecycle_of(identity))
    if refusal:
        messages.error(request, refusal)
        return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
    form = OffboardingForm(request.POST or None, identity=identity)
    if request.method == "POST" and form.is_valid():
        at = form.cleaned_data["at"]
        try:
            # Through the circuit breaker, as the API's leaves (and counted with them).
            job = lifecycle.offboard_in_window(
                identity,
                form.options(),
                kind=Batch.Kind.PAGE,
                actor=request.user,
                at=at,
                row={"person": identity.pk, "username": identity.username},
                http_request=request,
            )
        except lifecycle.HasLeft:  # their running leave ended since the check above
            identity.refresh_from_db()
            messages.error(request, _refusal(identity, queries_lifecycle.lifecycle_of(identity)))
            return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
        _say_offboarded(request, job, identity, at)
        return redirect("job_detail", job_id=job.pk)
    return render(request, "provisioning/offboard.html", _offboard_context(form, None))


def _say_offboarded(request: HttpRequest, job, identity: Identity, at) -> None:
    if job.status == Job.Status.HELD:
        messages.warning(
            request,
            f"The offboarding of {identity.display_name} is held: "
            f"{job.batch.hold_reason} Nothing is sent until an MSP admin confirms it "
            "on the tenant's schedule.",
        )
        return
    when = "Scheduled" if at else "Queued"
    messages.success(request, f"{when} the offboarding of {identity.display_name}.")


@login_required
@require_POST
def offboard_preview(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    """htmx: the dry run of the offboarding the form holds so far."""
    identity = queries.get_identity_for(request.user, tenant, identity_id, OPERATORS)
    form = OffboardingForm(request.POST, identity=identity, check_recipient=False)
    form.is_valid()
    context = _offboard_context(form, _offboard_preview(form))
    return render(request, "provisioning/offboard.html#preview", context)


# -- movers ----------------------------------------------------------------------------------


def _change_preview(
    form: ChangeForm, posted: dict[str, str], *, submit: bool = False
) -> DryRun | None:
    """`submit`: the dry run the change is queued by, its seat counts read afresh."""
    if not form.is_valid():
        return None
    change = form.change_request(posted)
    return _dry_run(
        lambda: lifecycle.preview_change(form.identity, change, fresh_seats=submit),
        read_errors_block=True,
        posted=posted,
    )


def _change_context(form: ChangeForm, dry_run: DryRun | None) -> dict:
    return {
        "identity": form.identity,
        "tenant": form.identity.tenant,
        "form": form,
        "preview": dry_run,
        "current_templates": form.identity.role_templates.all(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def change(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    identity = queries.get_identity_for(request.user, tenant, identity_id, OPERATORS)
    if identity.status in (Identity.Status.LEFT, Identity.Status.DELETED):
        messages.error(
            request, f"{identity.display_name} has left: restore them before changing their role."
        )
        return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
    form = ChangeForm(request.POST or None, identity=identity)
    posted = posted_license_choices(request.POST)
    dry_run = _change_preview(form, posted, submit=True) if request.method == "POST" else None
    if dry_run is not None and dry_run.ready:
        job = lifecycle.request_change(
            identity,
            form.change_request(posted),
            actor=request.user,
            at=form.cleaned_data["at"],
            http_request=request,
        )
        when = "Scheduled" if form.cleaned_data["at"] else "Queued"
        messages.success(request, f"{when} the change of {identity.display_name}.")
        return redirect("job_detail", job_id=job.pk)
    context = _change_context(form, dry_run)
    context["blocked"] = dry_run is not None and not dry_run.ready
    return render(request, "provisioning/change.html", context)


@login_required
@require_POST
def change_preview(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    identity = queries.get_identity_for(request.user, tenant, identity_id, OPERATORS)
    form = ChangeForm(request.POST, identity=identity)
    posted = posted_license_choices(request.POST)
    context = _change_context(form, _change_preview(form, posted))
    return render(request, "provisioning/change.html#preview", context)


# -- rehire ----------------------------------------------------------------------------------


def _restore_context(identity: Identity, dry_run: DryRun | None) -> dict:
    return {
        "identity": identity,
        "tenant": identity.tenant,
        "rehire": identity.status == Identity.Status.DELETED,
        "state": queries_lifecycle.lifecycle_of(identity),
        "preview": dry_run,
        "templates": identity.role_templates.all(),
    }


@login_required
@require_http_methods(["GET", "POST"])
def restore(request: HttpRequest, tenant: str, identity_id: int) -> HttpResponse:
    """Restore a leaver within the grace period, or rehire a deleted one (a new join): the
    dry run per directory first (GET, nothing sent); the confirm button (POST) checks it
    again with the licence choices made and queues the job only when nothing blocks it."""
    identity = queries.get_identity_for(request.user, tenant, identity_id, OPERATORS)
    if refused := lifecycle.restore_refused(identity):
        messages.error(request, refused)
        return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
    rehire = identity.status == Identity.Status.DELETED
    posted = posted_license_choices(request.POST)
    dry_run = _dry_run(
        lambda: lifecycle.preview_restore(identity, posted), read_errors_block=True, posted=posted
    )
    if request.method == "POST" and dry_run.ready:
        try:
            job = lifecycle.request_restore(
                identity, actor=request.user, license_choices=posted, http_request=request
            )
        except ValueError as error:
            messages.error(request, str(error))
            return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
        what = "rehire" if rehire else "restore"
        messages.success(request, f"Queued the {what} of {identity.display_name}.")
        return redirect("job_detail", job_id=job.pk)
    context = _restore_context(identity, dry_run)
    context["blocked"] = request.method == "POST"
    return render(request, "provisioning/restore.html", context)


# -- adding a person to a directory ----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def add_directory(
    request: HttpRequest, tenant: str, identity_id: int, connection_id: int
) -> HttpResponse:
    """Manage a person (adopted where they had an account) in another directory of the
    tenant: the dry run first (GET, nothing sent); the confirm button (POST) checks it again
    and queues the job only when nothing blocks it."""
    identity = queries.get_identity_for(request.user, tenant, identity_id, OPERATORS)
    connection = access.get_connection_for(request.user, tenant, connection_id, OPERATORS)
    if identity.status not in lifecycle.MANAGED or manages(identity.directories, connection):
        messages.error(
            request, f"{identity.display_name} cannot be added to {connection.label} now."
        )
        return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
    posted = posted_license_choices(request.POST)
    confirm = request.method == "POST" and "preview" not in request.POST
    dry_run = _dry_run(
        lambda: lifecycle.preview_add_to_directory(
            identity, connection, posted, fresh_seats=confirm
        ),
        read_errors_block=True,
        posted=posted,
    )
    if confirm and dry_run.ready:
        try:  # checked again under the person's lock: another confirm may have come first
            job = lifecycle.add_to_directory(
                identity,
                connection,
                actor=request.user,
                license_choices=posted,
                http_request=request,
            )
        except ValueError as error:
            messages.error(request, str(error))
            return redirect("identity_detail", tenant=tenant, identity_id=identity.pk)
        messages.success(
            request, f"Queued the account of {identity.display_name} in {connection.label}."
        )
        return redirect("job_detail", job_id=job.pk)
    context = {
        "identity": identity,
        "tenant": identity.tenant,
        "connection": connection,
        "managed_in": queries.managed_in(identity),
        "preview": dry_run,
        "also": _also_changed(dry_run, connection),
        "blocked": confirm,
    }
    if request.htmx and not confirm:  # a licence answered: the dry run again, with it
        return render(request, "provisioning/add_directory.html#preview", context)
    return render(request, "provisioning/add_directory.html", context)


def _also_changed(dry_run, connection) -> list[str]:
    """The person's other directories the job changes too: a Change job brings every
    directory they are managed in to what the portal wants, not only the one added."""
    return [
        d.connection.label
        for d in dry_run.directories
        if d.connection.pk != connection.pk and d.operations
    ]


# -- a tenant's lifecycle settings -----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def lifecycle_settings(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, MSP_ADMIN)
    data = request.POST or None
    preset_form = PresetForm(data, instance=preset_of(tenant_obj))
    breaker_form = CircuitBreakerForm(data, instance=tenant_obj)
    if request.method == "POST" and preset_form.is_valid() and breaker_form.is_valid():
        if breaker_form.raises_a_limit and not mfa.reauth_is_fresh(request):
            return password_again(request.path)  # larger runs unheld: as a confirm asks
        save_lifecycle_settings(
            breaker_form.save(commit=False),
            preset_form.save(commit=False),
            actor=request.user,
            request=request,
        )
        messages.success(request, f"Saved the lifecycle settings of {tenant_obj.name}.")
        return redirect("lifecycle_settings", tenant=tenant_obj.slug)
    managed = lifecycle.managed_count(tenant_obj)
    return render(
        request,
        "provisioning/lifecycle_settings.html",
        {
            "tenant": tenant_obj,
            "preset_form": preset_form,
            "breaker_form": breaker_form,
            "has_okta": tenant_obj.connections.filter(kind="okta").exists(),
            "managed": managed,
            "hold_limit": tenant_obj.offboard_hold_limit(managed),
        },
    )


# -- the schedule ----------------------------------------------------------------------------


def _schedule(request: HttpRequest, tenants, tenant=None) -> HttpResponse:
    return render(
        request,
        "provisioning/schedule.html",
        {
            "tenant": tenant,
            "jobs": queries_lifecycle.upcoming_jobs(tenants),
            "batches": queries_lifecycle.held_batches(tenants),
            "limit": queries_lifecycle.SCHEDULE_LIMIT,
        },
    )


@login_required
@require_GET
def tenant_schedule(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    return _schedule(request, [tenant_obj], tenant_obj)


@login_required
@require_GET
def schedule(request: HttpRequest) -> HttpResponse:
    """Every tenant the person may see."""
    access.require_role(request.user, access.READ_ROLES)
    return _schedule(request, access.tenants_for(request.user))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@login_required
@require_POST
def job_cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = queries.get_job_for(request.user, job_id, OPERATORS)
    if lifecycle.cancel_job(job, actor=request.user, http_request=request):
        messages.success(request, f"Cancelled {job}.")
    else:
        job.refresh_from_db()
        status = job.get_status_display().lower()
        messages.error(request, f"{job} is {status}: it can no longer be cancelled.")
    return redirect(_next_or(request, reverse("job_detail", kwargs={"job_id": job.pk})))


@login_required
@require_POST
def batch_confirm(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    batch = queries_lifecycle.get_batch_for(request.user, tenant, batch_id, MSP_ADMIN)
    back = _next_or(request, _schedule_url(batch.tenant))
    if not mfa.reauth_is_fresh(request):  # the breaker's release of a mass change: ask again
        return password_again(back)
    if batch.status != Batch.Status.HELD:
        status = batch.get_status_display().lower()
        messages.error(request, f"{batch} does not need confirmation: it is {status}.")
    else:
        try:
            released = lifecycle.confirm_batch(batch, actor=request.user, http_request=request)
        except tenant_services.HeldEditRefused as refused:
            messages.error(request, f"Not confirmed: {refused}")
        else:
            messages.success(request, f"Confirmed {batch}: {_plural(released, 'job')} released.")
    return redirect(back)


@login_required
@require_POST
def batch_cancel(request: HttpRequest, tenant: str, batch_id: int) -> HttpResponse:
    batch = queries_lifecycle.get_batch_for(request.user, tenant, batch_id, OPERATORS)
    if batch.status == Batch.Status.CANCELLED:
        messages.info(request, f"{batch} was cancelled already.")
    else:
        cancelled = lifecycle.cancel_batch(batch, actor=request.user, http_request=request)
        if cancelled is None:
            messages.info(request, f"{batch} has nothing left to cancel: its jobs have started.")
        else:
            messages.success(
                request, f"Cancelled {batch}: {_plural(cancelled, 'job')} will not run."
            )
    return redirect(_next_or(request, _schedule_url(batch.tenant)))


def _schedule_url(tenant) -> str:
    return reverse("tenant_schedule", kwargs={"tenant": tenant.slug})
