"""Requestable resources of a tenant: the list (every role of the tenant may read it) and the
"Make requestable" form, which picks a group or app from the directory's live list (MSP
admins and the tenant's technicians)."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from portal.next_page import login_required
from provisioning.access import queries as queries_access
from provisioning.access import services as ar
from provisioning.access.forms import RequestableForm, posted
from provisioning.models import RequestableResource
from tenants import access

OPERATORS = access.OPERATOR_ROLES


@login_required
@require_GET
def requestable_list(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant)
    resources = list(queries_access.requestables_of(tenant_obj))
    for resource in resources:
        resource.rule = ar.rule_text(resource)
    return render(
        request, "access/requestable_list.html", {"tenant": tenant_obj, "resources": resources}
    )


@login_required
@require_http_methods(["GET", "POST"])
def requestable_new(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, OPERATORS)
    listings = queries_access.directory_resources(tenant_obj)
    form = RequestableForm(posted(request), tenant=tenant_obj, listings=listings)
    return _save(request, form, listings)


@login_required
@require_http_methods(["GET", "POST"])
def requestable_edit(request: HttpRequest, tenant: str, resource_id: int) -> HttpResponse:
    resource = queries_access.get_resource_for(request.user, tenant, resource_id, OPERATORS)
    form = RequestableForm(posted(request), instance=resource, tenant=resource.tenant)
    return _save(request, form, [])


def _save(request: HttpRequest, form: RequestableForm, listings) -> HttpResponse:
    status = 200
    if request.method == "POST":
        if form.is_valid():
            resource = form.resource()
            try:
                ar.save_requestable(
                    resource,
                    named=form.cleaned_data["named_approvers"],
                    actor=request.user,
                    http_request=request,
                )
            except ar.AccessRequestError as exc:
                form.add_error(None, exc.message)
            except IntegrityError:  # someone made it requestable a moment ago
                form.add_error(None, f"{resource.name} is requestable already: edit it instead.")
            else:
                messages.success(request, f"Saved: {resource.name} can be requested as set.")
                return redirect("requestable_list", tenant=form.tenant.slug)
        status = 400
    context = {
        "tenant": form.tenant,
        "form": form,
        "resource": form.instance if form.instance.pk else None,
        "listings": listings,
        "unreadable": [listing for listing in listings if listing.error],
        "nothing_to_offer": not form.instance.pk and len(form.fields["pick"].choices) <= 1,
        "approvers": RequestableResource.Approvers,
    }
    return render(request, "access/requestable_form.html", context, status=status)
