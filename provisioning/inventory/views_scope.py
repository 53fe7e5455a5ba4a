"""A tenant's takeover settings (`inventory_policy`): how accounts are matched to people,
which accounts the portal may manage, and what it does about drift. A change of rules is
previewed first (how many accounts enter and leave scope, with samples) and saved with the
same values; the save computes its own counts, whatever the page showed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.next_page import login_required
from provisioning.inventory import scope
from provisioning.inventory.forms_scope import PolicyForm, fingerprint
from provisioning.inventory.models import Policy
from tenants import access
from tenants.models import Tenant


@login_required
@require_http_methods(["GET", "POST"])
def inventory_policy(request: HttpRequest, tenant: str) -> HttpResponse:
    roles = access.OPERATOR_ROLES if request.method == "POST" else access.READ_ROLES
    tenant_obj = access.get_tenant_for(request.user, tenant, roles)
    can_operate = access.may_operate(request.user)
    policy = scope.current_policy(tenant_obj)
    form = PolicyForm(request.POST or None, tenant=tenant_obj, policy=policy)
    change, stamp, data = None, "", {}
    if request.method == "POST" and form.is_valid():
        data = form.policy_data()
        stamp = fingerprint(data, policy)
        if request.POST.get("action") == "save" and form.cleaned_data["previewed"] == stamp:
            change = scope.save_policy(tenant_obj, data, request.user, request=request)
            messages.success(request, saved_message(tenant_obj, change))
            return redirect("inventory_policy", tenant=tenant_obj.slug)
        # A preview, or a save of values other than those previewed: preview these.
        change = scope.preview(tenant_obj, scope.proposed(tenant_obj, data))
    if not can_operate:
        for field in form.fields.values():
            field.disabled = True
    return render(
        request,
        "inventory/policy.html",
        {
            "tenant": tenant_obj,
            "policy": policy,
            "form": form,
            "change": change,
            "stamp": stamp,
            "standing": scope.standing(tenant_obj),
            "can_operate": can_operate,
            "offboards": change is not None and data["out_of_scope_action"] != "keep",
            "action_label": Policy.OutOfScope(data["out_of_scope_action"]).label if data else "",
        },
    )


def saved_message(tenant: Tenant, change: scope.ScopeChange) -> str:
    message = (
        f"Saved the takeover settings of {tenant.name}: {change.entering} "
        f"account{'s' * (change.entering != 1)} entered scope, {change.leaving} left it."
    )
    jobs = len(change.offboarding)
    if jobs:
        people = "person" if jobs == 1 else "people"
        waits = " (held: an MSP admin confirms them on the schedule)" if change.held else ""
        message += f" Offboarding {jobs} managed {people} whose accounts left scope{waits}."
    return message
