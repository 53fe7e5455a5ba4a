"""Adopting people the directories show and the portal does not manage: one person (with the
role templates suggested by what they hold), a filtered selection or everyone in scope at
once, and the way to offboard or move any in-scope account from the People page (the person
is adopted, then the identity's own offboarding or move form takes over, with its dry run).

Operators only (MSP admins and technicians); adoption itself changes nothing in any
directory."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from portal.audit.models import AuditEvent
from portal.fields import renamed_query
from portal.next_page import login_required
from provisioning.inventory import (
    adoption,
    adoption_bulk,
    adoption_draft,
    adoption_patterns,
    adoption_suggest,
)
from provisioning.inventory.forms_adopt import AdoptForm, BulkAdoptForm, FollowForm
from provisioning.inventory.forms_people import OLD_NAMES
from provisioning.inventory.models import Person
from provisioning.inventory.tasks_adopt import adopt_people
from provisioning.models import Identity
from tenants import access
from tenants.models import Tenant

OPERATORS = access.OPERATOR_ROLES
INLINE_LIMIT = 50  # a bigger selection is adopted by a worker
# What follows an adoption: the page it leads to, the button that does it.
NEXT = {
    "": ("identity_detail", "Adopt {name}"),
    "offboard": ("offboard", "Adopt {name} and choose the offboarding"),
    "change": ("identity_change", "Adopt {name} and choose the new role"),
}


def _person_for(request: HttpRequest, tenant: str, person_id: int) -> Person:
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    return get_object_or_404(
        Person.objects.select_related("tenant"), tenant=tenant_obj, pk=person_id
    )


def _adopt_page(request: HttpRequest, tenant: str, person_id: int, then: str) -> HttpResponse:
    person = _person_for(request, tenant, person_id)
    if person.identity_id is not None:
        return _managed(request, person, then)
    templates = list(adoption_suggest.templates_of(person.tenant))
    suggestions = adoption_suggest.suggest_templates(
        person, templates=templates, limit=len(templates)
    )
    if request.method == "POST":
        form = AdoptForm(request.POST, tenant=person.tenant)
    elif "preview" in request.GET:
        form = AdoptForm(request.GET, tenant=person.tenant)
    else:
        initial = {"templates": _initial(suggestions)}
        form = AdoptForm(initial=initial, tenant=person.tenant)
    valid = form.is_valid() if form.is_bound else True
    refused = ""
    if request.method == "POST" and valid:
        try:
            identity = adoption.adopt(
                person,
                form.chosen(),
                request.user,
                reason=form.cleaned_data["reason"],
                confirm_changes=form.cleaned_data["confirm_changes"],
                http_request=request,
                to_offboard=then == "offboard",
            )
        except adoption.AdoptionRefused as error:
            refused = error.message
        else:
            messages.success(request, _adopted(identity))
            view_name, _ = NEXT[then]
            return redirect(view_name, tenant=tenant, identity_id=identity.pk)
    chosen = form.chosen() if form.is_bound and valid else _initial(suggestions, templates)
    context = {
        "tenant": person.tenant,
        "person": person,
        "form": form,
        "then": then,
        "button": NEXT[then][1].format(name=person),
        "choices": _choices(form, suggestions),
        "draft": adoption_draft.draft(person, chosen),
        "refused": refused,
        "here": request.path,
    }
    status = 400 if refused or not valid else 200
    template = "inventory/adopt.html#preview" if request.htmx else "inventory/adopt.html"
    return render(request, template, context, status=status)


def _initial(suggestions, templates=None) -> list:
    """The best match that adds nothing, chosen before the technician chooses (its pk for
    the form, or the template itself with `templates`)."""
    best = adoption_suggest.best_match(suggestions)
    if best is None:
        return []
    return [best] if templates is not None else [best.pk]


def _choices(form: AdoptForm, suggestions) -> list[tuple]:
    """Each template's checkbox with its suggestion (None: it explains nothing held), the
    suggested first, best first."""
    rank = {s.template.pk: (i, s) for i, s in enumerate(suggestions)}
    rows = []
    for choice in form["templates"]:
        pk = int(str(choice.data["value"]))
        place, suggestion = rank.get(pk, (len(rank), None))
        rows.append((place, choice, suggestion))
    rows.sort(key=lambda row: row[0])
    return [(choice, suggestion) for _, choice, suggestion in rows]


def _adopted(identity: Identity) -> str:
    if identity.status == Identity.Status.ACTIVE:
        state = "active"
    else:
        state = "someone who has left (sign-in stays blocked)"
    return f"Adopted {identity.display_name} as {state}. Nothing was changed in any directory."


def _managed(request: HttpRequest, person: Person, then: str) -> HttpResponse:
    """A managed person's offboarding and move are the identity's own pages."""
    view_name, _ = NEXT[then]
    if not then:
        messages.info(request, f"{person} is managed already.")
    return redirect(view_name, tenant=person.tenant.slug, identity_id=person.identity_id)


@login_required
@require_http_methods(["GET", "POST"])
def person_adopt(request: HttpRequest, tenant: str, person_id: int) -> HttpResponse:
    return _adopt_page(request, tenant, person_id, "")


@login_required
@require_http_methods(["GET", "POST"])
def person_offboard(request: HttpRequest, tenant: str, person_id: int) -> HttpResponse:
    """Offboard anyone in scope: an unmanaged person is adopted first (changing nothing),
    then the identity's offboarding form shows its options and dry run."""
    return _adopt_page(request, tenant, person_id, "offboard")


@login_required
@require_http_methods(["GET", "POST"])
def person_change(request: HttpRequest, tenant: str, person_id: int) -> HttpResponse:
    """Move anyone in scope: adopted first, then the identity's move form."""
    return _adopt_page(request, tenant, person_id, "change")


# -- many at once ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def people_adopt(request: HttpRequest, tenant: str) -> HttpResponse:
    """A preview of adopting a selection (or everyone in scope), and the start of it."""
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    if request.method == "GET" and (moved := renamed_query(request, OLD_NAMES)):
        return redirect(moved, permanent=True)
    data = request.POST if request.method == "POST" else request.GET
    if not data:
        data = {"scope": "in"}  # everyone in scope
    form = BulkAdoptForm(data, tenant=tenant_obj)
    context = {"tenant": tenant_obj, "form": form}
    if not form.is_valid():
        return render(request, "inventory/adopt_people.html", context, status=400)
    # The worker's summary before the counts: read after them, it could name adoptions the
    # counts (read just before it committed) still showed as to do.
    adopting = _adopting(request, tenant_obj) if request.method == "GET" else None
    preview = adoption_bulk.preview_adoption(tenant_obj, form.people())
    back = f"{reverse('people_adopt', kwargs={'tenant': tenant})}?{form.query()}"
    if request.method == "POST":
        if form.cleaned_data["expected"] != preview.adoptable:
            messages.warning(
                request,
                f"The selection changed since the preview: {preview.adoptable} "
                f"{pluralize(preview.adoptable, 'person,people')} can be adopted now. "
                "Check them again.",
            )
        elif preview.adoptable and _start(
            request, tenant_obj, preview, form.cleaned_data["reason"]
        ):
            back += f"&{ADOPTING}={timezone.now().timestamp():.6f}"
        return redirect(back)
    context |= {
        "adopting": adopting,
        "preview": preview,
        "proposals": adoption_patterns.proposals(preview.patterns, tenant_obj.slug),
        "query": form.query(),
        "filters": form.filters(),
    }
    return render(request, "inventory/adopt_people.html", context)


ADOPTING = "adopting"  # the query's mark of an adoption left to the worker: when it began


@dataclass(frozen=True)
class Adopting:
    """A bulk adoption the worker runs, as the page follows it: its summary, once recorded."""

    summary: AuditEvent | None

    @property
    def refused(self) -> int:
        return sum(self.summary.after.get("refused", {}).values()) if self.summary else 0


def _adopting(request: HttpRequest, tenant: Tenant) -> Adopting | None:
    """The worker's adoption this page was sent back to follow (None without the mark, or
    with one that is not a time): its summary event (adoption_bulk._audit_many) once it has
    ended."""
    began = FollowForm(request.GET).began()
    if began is None:
        return None
    summaries = AuditEvent.objects.filter(
        tenant_id=tenant.pk, action="inventory.adopted_many", timestamp__gte=began
    )
    return Adopting(summaries.order_by("timestamp").first())


def _start(request: HttpRequest, tenant, preview, reason: str) -> bool:
    """Adopt what the preview selected: at once, or (True) by a worker the page follows."""
    ids = preview.person_ids
    if len(ids) <= INLINE_LIMIT:
        result = adoption_bulk.adopt_many(tenant, ids, request.user, reason=reason)
        refused = sum(result.refused.values())
        messages.success(
            request,
            f"Adopted {result.adopted} {_people(result.adopted)}"
            + (f"; {refused} refused (see the audit trail)" if refused else "")
            + ". Nothing was changed in any directory.",
        )
        return False
    user_id = request.user.pk
    transaction.on_commit(lambda: adopt_people.delay(tenant.pk, ids, user_id, reason))
    messages.success(
        request,
        f"Adopting {len(ids)} {pluralize(len(ids), 'person,people')} in the background: the "
        "count below goes down as they are adopted; a summary event ends it in the audit trail.",
    )
    return True


def _people(n: int) -> str:
    return "person" if n == 1 else "people"
