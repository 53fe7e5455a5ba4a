"""The People page (every person of a tenant's directories, managed or not) and the page of
one unmanaged person's accounts. Read-only: adoption, offboarding and drift are other pages'
(their partials are included on the person's page)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from provisioning.inventory import queries_people
from provisioning.inventory.forms_people import PeopleFilterForm
from tenants import access

PEOPLE_TEMPLATE = "inventory/people_list.html"


@login_required
@require_GET
def people_list(request: HttpRequest, tenant: str) -> HttpResponse:
    """Every person of the tenant's directories, searched, filtered and in keyset pages; with
    HX-Request only the rows (what the search box swaps as one types)."""
    tenant_obj = access.get_tenant_for(request.user, tenant)
    form = PeopleFilterForm(request.GET, tenant=tenant_obj)
    page, status = None, 200
    if form.is_valid():
        people = queries_people.people_of(tenant_obj, form.cleaned_data)
        page = queries_people.page_of(
            people, form.cleaned_data["after"], form.cleaned_data["before"]
        )
    else:
        status = 400
    context = {
        "tenant": tenant_obj,
        "form": form,
        "page": page,
        "rows": _rows(tenant_obj, page.people) if page else [],
        "query": _filters_query(form),
        "counts": None if request.htmx else queries_people.counts_of(tenant_obj),
    }
    template = f"{PEOPLE_TEMPLATE}#rows" if request.htmx else PEOPLE_TEMPLATE
    return render(request, template, context, status=status)


def _rows(tenant, people) -> list[dict]:
    directories = queries_people.directories_of(tenant, people)
    return [{"person": p, "directories": directories.get(p.pk, [])} for p in people]


def _filters_query(form: PeopleFilterForm) -> str:
    """The valid filters as a query string, for page links that keep them (no position)."""
    if not form.is_valid():
        return ""
    kept = {name: form.cleaned_data.get(name) for name in PeopleFilterForm.FILTERS}
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
