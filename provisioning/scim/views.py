"""The tenant's SCIM page (MSP admins): the endpoint's URL, its tokens (a new one shown
once), and the rules that choose a SCIM joiner's role templates."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from portal import mfa
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from provisioning.scim import rules, tokens
from provisioning.scim.forms import MoveForm, RuleForm, TokenForm
from provisioning.scim.models import RoleRule, ScimToken
from tenants import access
from tenants.models import Tenant

MSP_ADMIN = (Role.MSP_ADMIN,)


def _tenant(request: HttpRequest, slug: str) -> Tenant:
    return access.get_tenant_for(request.user, slug, MSP_ADMIN)


def _token_for(request: HttpRequest, slug: str, token_id: int) -> ScimToken:
    return get_object_or_404(ScimToken, tenant=_tenant(request, slug), pk=token_id)


def _rule_for(request: HttpRequest, slug: str, rule_id: int) -> RoleRule:
    return get_object_or_404(RoleRule, tenant=_tenant(request, slug), pk=rule_id)


def _endpoint(request: HttpRequest, tenant: Tenant) -> str:
    config = reverse("scim_service_provider_config", kwargs={"tenant": tenant.slug})
    return request.build_absolute_uri(config).rsplit("/", 1)[0]


@login_required
@require_http_methods(["GET", "POST"])
def scim_settings(request: HttpRequest, tenant: str) -> HttpResponse:
    """The page; its POST creates a token, shown in this response only."""
    tenant_obj = _tenant(request, tenant)
    form = TokenForm(request.POST or None, prefix="token")
    issued = ""
    if request.method == "POST" and form.is_valid():
        if not mfa.reauth_is_fresh(request):  # a key to every person of the tenant: ask again
            return password_again(reverse("scim_settings", kwargs={"tenant": tenant_obj.slug}))
        _, issued = tokens.issue(
            tenant_obj, form.cleaned_data["name"], actor=request.user, http_request=request
        )
        form = TokenForm(prefix="token")
    return _page(request, tenant_obj, token_form=form, issued=issued)


def _page(request, tenant: Tenant, *, token_form=None, rule_form=None, issued="", status=200):
    context = {
        "tenant": tenant,
        "endpoint": _endpoint(request, tenant),
        "tokens": ScimToken.objects.filter(tenant=tenant).select_related(
            "created_by", "created_by__profile"
        ),
        "rules": RoleRule.objects.filter(tenant=tenant).select_related("role_template"),
        "token_form": token_form or TokenForm(prefix="token"),
        "rule_form": rule_form or RuleForm(tenant=tenant, prefix="rule"),
        "issued": issued,
    }
    response = render(request, "scim/settings.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page may hold a new token
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, tenant: str, token_id: int) -> HttpResponse:
    token = _token_for(request, tenant, token_id)
    if tokens.revoke(token, actor=request.user, http_request=request):
        messages.success(request, f"Revoked {token.name}: its client is refused from now on.")
    return redirect("scim_settings", tenant=token.tenant.slug)


@login_required
@require_POST
def rule_add(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = _tenant(request, tenant)
    form = RuleForm(request.POST, tenant=tenant_obj, prefix="rule")
    if not form.is_valid():
        return _page(request, tenant_obj, rule_form=form, status=400)
    data = form.cleaned_data
    rules.add(
        tenant_obj,
        attribute=data["attribute"],
        value=data["value"],
        template=data["role_template"],
        actor=request.user,
        http_request=request,
    )
    messages.success(request, "Added the rule.")
    return redirect("scim_settings", tenant=tenant_obj.slug)


@login_required
@require_POST
def rule_delete(request: HttpRequest, tenant: str, rule_id: int) -> HttpResponse:
    rule = _rule_for(request, tenant, rule_id)
    rules.delete(rule, actor=request.user, http_request=request)
    messages.success(request, "Deleted the rule.")
    return redirect("scim_settings", tenant=rule.tenant.slug)


@login_required
@require_POST
def rule_move(request: HttpRequest, tenant: str, rule_id: int) -> HttpResponse:
    rule = _rule_for(request, tenant, rule_id)
    form = MoveForm(request.POST)
    if form.is_valid():
        up = form.cleaned_data["direction"] == "up"
        rules.move(rule, up, actor=request.user, http_request=request)
    return redirect("scim_settings", tenant=rule.tenant.slug)
