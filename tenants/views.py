import copy

from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from portal import mfa
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from tenants import access, services
from tenants.forms import CONNECTION_FORMS, TenantForm
from tenants.models import DirectoryConnection, Tenant

MSP_ADMIN = (Role.MSP_ADMIN,)


@login_required
@require_GET
def tenant_list(request):
    access.require_role(request.user, access.READ_ROLES)
    tenants = access.tenants_for(request.user).annotate(
        connection_count=Count("connections", distinct=True),
        template_count=Count("role_templates", distinct=True),
    )
    return render(request, "tenants/tenant_list.html", {"tenants": tenants})


@login_required
@require_GET
def tenant_detail(request, tenant: str):
    tenant_obj = access.get_tenant_for(request.user, tenant)
    connections = list(tenant_obj.connections.all())
    # By label ("Zoom (SCIM)"): a directory's app may bear the same name ("Zoom" in Okta).
    apps = {c.pk: c.label for c in connections if c.assigned_by_template}
    role_templates = list(tenant_obj.role_templates.all())
    for template in role_templates:  # the SCIM apps it gives, by label, with their groups
        template.scim_given = [
            (apps[entry["connection"]], entry.get("groups") or [])
            for entry in template.scim_apps
            if entry.get("connection") in apps
        ]
    return render(
        request,
        "tenants/tenant_detail.html",
        {
            "tenant": tenant_obj,
            "connections": connections,
            "connected_kinds": {c.kind for c in connections},
            "role_templates": role_templates,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def tenant_create(request):
    access.require_role(request.user, MSP_ADMIN)
    return _tenant_form(request, Tenant())


@login_required
@require_http_methods(["GET", "POST"])
def tenant_edit(request, tenant: str):
    return _tenant_form(request, access.get_tenant_for(request.user, tenant, MSP_ADMIN))


def _tenant_form(request, tenant: Tenant):
    # The form cleans into a copy: a refused submit's page names and links the tenant as
    # stored, not as half-typed (an emptied slug made its links a 500).
    form = TenantForm(request.POST or None, instance=copy.copy(tenant))
    if request.method == "POST" and form.is_valid():
        # A domain added is a new place every joiner's first sign-in may go (a manager's
        # address counts only at the tenant's domains): the password again, as for a
        # named recipient. A new tenant has no people yet.
        if _adds_a_domain(tenant, form.instance) and not mfa.reauth_is_fresh(request):
            return password_again(request.path)
        tenant = form.save(commit=False)
        tenant.slug = form.cleaned_data["slug"]
        services.save_tenant(tenant, actor=request.user, request=request)
        messages.success(request, f"Saved {tenant.name}.")
        return redirect("tenant_detail", tenant=tenant.slug)
    return render(request, "tenants/tenant_form.html", {"form": form, "tenant": tenant})


def _adds_a_domain(stored: Tenant, edited: Tenant) -> bool:
    if stored.pk is None:
        return False
    had = {domain.casefold() for domain in stored.domains}
    return any(domain.casefold() not in had for domain in edited.domains)


@login_required
@require_http_methods(["GET", "POST"])
def connection_create(request, tenant: str, kind: str):
    tenant_obj = access.get_tenant_for(request.user, tenant, MSP_ADMIN)
    if kind not in CONNECTION_FORMS:
        raise Http404("Unknown directory kind.")
    one_per_tenant = kind != DirectoryConnection.Kind.SCIM  # SCIM apps: as many as it uses
    if one_per_tenant and tenant_obj.connections.filter(kind=kind).exists():
        messages.error(request, "This tenant has a connection of that kind already: edit it.")
        return redirect("tenant_detail", tenant=tenant_obj.slug)
    if not mfa.reauth_is_fresh(request):  # a new place the tenant's people go: ask first
        return password_again(request.path)
    return _connection_form(request, DirectoryConnection(tenant=tenant_obj, kind=kind))


@login_required
@require_http_methods(["GET", "POST"])
def connection_edit(request, tenant: str, connection_id: int):
    connection = access.get_connection_for(request.user, tenant, connection_id, MSP_ADMIN)
    return _connection_form(request, connection)


def _connection_form(request, connection: DirectoryConnection):
    form = CONNECTION_FORMS[connection.kind](request.POST or None, instance=connection)
    if request.method == "POST" and form.is_valid():
        # A new secret is what any change of where the people go needs (ConnectionForm.clean):
        # like an API token, it outlives the session, so the password is asked again.
        if form.cleaned_data["secret"] and not mfa.reauth_is_fresh(request):
            return password_again(request.path)
        services.save_connection(
            form.save(commit=False),
            new_secret=form.cleaned_data["secret"],
            actor=request.user,
            request=request,
        )
        messages.success(request, f"Saved the {connection.label} connection.")
        return redirect("tenant_detail", tenant=connection.tenant.slug)
    return render(
        request,
        "tenants/connection_form.html",
        {"form": form, "connection": connection, "tenant": connection.tenant},
    )
