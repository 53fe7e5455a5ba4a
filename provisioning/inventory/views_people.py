"""The People page (every person of a tenant's directories, managed or not) and the page of
one unmanaged person's accounts. Read-only: adoption, offboarding and drift are other pages'
(their partials are included on the person's page)."""

from __future__ import annotations

import zoneinfo
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from portal.fields import renamed_query, usable_filters
from portal.next_page import login_required
from provisioning.inventory import queries_people
from provisioning.inventory.forms_people import OLD_NAMES, PeopleFilterForm
from tenants import access

PEOPLE_TEMPLATE = "inventory/people_list.html"


@login_required
@require_GET
def people_list(request: HttpRequest, tenant: str) -> HttpResponse:
    """Every person of the tenant's directories, searched, filtered and in keyset pages; with
    HX-Request only the rows (what the search box swaps as one types)."""
    tenant_obj = access.get_tenant_for(request.user, tenant)
    if moved := renamed_query(request, OLD_NAMES):
        return redirect(moved, permanent=True)
    form = PeopleFilterForm(request.GET, tenant=tenant_obj)
    filters = usable_filters(form)  # a value that is not valid: marked, left out
    people = queries_people.people_of(tenant_obj, filters)
    page = queries_people.page_of(people, filters.get("after"), filters.get("before"))
    context = {
        "tenant": tenant_obj,
        "form": form,
        "page": page,
        "rows": _rows(request, tenant_obj, page.people) if page else [],
        "query": _filters_query(filters),
        "adopt_url": _adopt_url(tenant_obj, filters) if _may_list_unmanaged(page) else "",
        "counts": None if request.htmx else queries_people.counts_of(tenant_obj),
        "unread": [] if request.htmx else queries_people.unread_directories(tenant_obj),
    }
    template = f"{PEOPLE_TEMPLATE}#rows" if request.htmx else PEOPLE_TEMPLATE
    return render(request, template, context)


# The badge of a managed person's lifecycle status (as provisioning/_status.html colours it).
STATUS_BADGE = {
    "joiner": "info",
    "active": "ok",
    "leaver": "warn",
    "left": "bad",
    "deleting": "info",
    "delete_failed": "bad",
    "deleted": "",
}
_SENTINEL = 987654321987


def _link_maker(name: str, tenant, key: str):
    """pk -> the URL `name` gives for the tenant and that pk: reversed once, not per row (a
    page of 50 rows asked for 150 reversals); None when no such route is there."""
    try:
        template = reverse(name, kwargs={"tenant": tenant.slug, key: _SENTINEL})
    except NoReverseMatch:
        return None
    head, _, tail = template.rpartition(str(_SENTINEL))
    return lambda pk: f"{head}{pk}{tail}"


def _rows(request, tenant, people) -> list[dict]:
    """What each row shows, worked out here so that the template only prints it."""
    directories = queries_people.directories_of(tenant, people)
    identity_page = _link_maker("identity_detail", tenant, "identity_id")
    person_page = _link_maker("person_detail", tenant, "person_id")
    actions = _actions(tenant) if access.may_operate(request.user) else None
    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    rows = []
    for person in people:
        identity = person.identity
        signed_in = person.last_sign_in.astimezone(zone) if person.last_sign_in else None
        rows.append(
            {
                "person": person,
                "url": identity_page(identity.pk) if identity else person_page(person.pk),
                # the mail under the username only when it says something more
                "mail": person.mail if person.mail.casefold() != person.username.casefold() else "",
                "directories": [_directory_label(c) for c in directories.get(person.pk, [])],
                "lifecycle": _lifecycle(identity),
                "sign_in": _sign_in(person),
                "last_sign_in": f"{signed_in.day} {signed_in:%b %Y}" if signed_in else "",
                "actions": actions(person) if actions else [],
            }
        )
    return rows


def _lifecycle(identity) -> tuple[str, str] | None:
    """A managed person's place in the portal's lifecycle (Joiner, Active, Left...)."""
    if identity is None:
        return None
    return identity.get_status_display(), STATUS_BADGE.get(identity.shown_status, "")


def _sign_in(person) -> tuple[str, str] | None:
    """Whether the person's accounts may sign in, as the Sign-in filter asks; None before any
    account of theirs is read."""
    if not person.accounts_count:
        return None
    return ("Enabled", "ok") if person.enabled else ("Disabled", "bad")


def _actions(tenant):
    """person -> the (label, URL) buttons an operator gets on their row: offboarding a
    managed person who has not left; adopting or offboarding an unmanaged one in scope (the
    adoption pages' routes, when they are there)."""
    offboard = _link_maker("offboard", tenant, "identity_id")
    unmanaged = [
        (label, link)
        for label, link in (
            ("Adopt…", _link_maker("person_adopt", tenant, "person_id")),
            ("Offboard…", _link_maker("person_offboard", tenant, "person_id")),
        )
        if link is not None
    ]

    def of(person) -> list[tuple[str, str]]:
        identity = person.identity
        if identity is not None:
            leaving = identity.status not in ("left", "deleted")
            return [("Offboard…", offboard(identity.pk))] if leaving else []
        return [(label, link(person.pk)) for label, link in unmanaged] if person.in_scope else []

    return of


def _may_list_unmanaged(page) -> bool:
    """Whether this list holds someone to adopt: an unmanaged person on this page, or other
    pages it has not shown."""
    if page is None:
        return False
    others = page.next_after or page.previous_before or not page.first
    return bool(others) or any(person.identity_id is None for person in page.people)


def _adopt_url(tenant, filters: dict) -> str:
    """The bulk adoption's preview of the unmanaged people of this list (its filters kept);
    "" when the list is of managed people only or the adoption pages are not there."""
    if filters.get("who") == "managed":
        return ""
    try:
        url = reverse("people_adopt", kwargs={"tenant": tenant.slug})
    except NoReverseMatch:
        return ""
    query = _filters_query(filters)
    return f"{url}?{query}" if query else url


def _directory_label(connection) -> tuple[str, str]:
    """(short label, full name) of a directory, for a row's badge."""
    full = connection.label
    return ("Entra" if connection.kind == "entra" else full, full)


def _filters_query(filters: dict) -> str:
    """The valid filters as a query string, for page links that keep them (no position)."""
    kept = {name: filters.get(name) for name in PeopleFilterForm.FILTERS}
    return urlencode({name: value for name, value in kept.items() if value not in (None, "")})


@login_required
@require_GET
def person_detail(request: HttpRequest, tenant: str, person_id: int) -> HttpResponse:
    """One person's accounts across the tenant's directories; a managed person's page is
    their identity's."""
    tenant_obj = access.get_tenant_for(request.user, tenant)
    person = queries_people.get_person_for(tenant_obj, person_id)
    if person is None:
        raise Http404("No such person in this tenant.")
    if person.identity_id is not None:
        return redirect("identity_detail", tenant=tenant_obj.slug, identity_id=person.identity_id)
    context = {
        "tenant": tenant_obj,
        "person": person,
        "accounts": queries_people.accounts_of(person),
    }
    return render(request, "inventory/person_detail.html", context)
