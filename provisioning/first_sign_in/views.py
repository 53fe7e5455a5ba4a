"""The tenant's first sign-in settings (MSP admins), and the one-time page a recipient opens
from the e-mail (no portal account needed: the link's unguessable token is the key)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal import client_address, mfa, ratelimit
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from provisioning.first_sign_in import deliveries
from provisioning.first_sign_in.forms import PolicyForm
from provisioning.first_sign_in.policies import policy_of, save_policy
from tenants import access

MSP_ADMIN = (Role.MSP_ADMIN,)
# Looks at one-time links per client address and minute: enough for a person, too few to
# guess a 256-bit token (the limit only keeps the noise down).
VIEWS_PER_MINUTE = 20


@login_required
@require_http_methods(["GET", "POST"])
def policy_settings(request: HttpRequest, tenant: str) -> HttpResponse:
    tenant_obj = access.get_tenant_for(request.user, tenant, MSP_ADMIN)
    form = PolicyForm(request.POST or None, instance=policy_of(tenant_obj))
    if request.method == "POST" and form.is_valid():
        # Every joiner's pass to an address of the form's choosing, from now on: ask first.
        if form.names_another_recipient and not mfa.reauth_is_fresh(request):
            return password_again(request.path)
        save_policy(form.save(commit=False), actor=request.user, request=request)
        messages.success(request, f"Saved how {tenant_obj.name}'s joiners first sign in.")
        return redirect("first_sign_in_settings", tenant=tenant_obj.slug)
    kinds = set(tenant_obj.connections.values_list("kind", flat=True))
    return render(
        request,
        "first_sign_in/settings.html",
        {
            "tenant": tenant_obj,
            "form": form,
            "has_entra": "entra" in kinds,
            "has_okta": "okta" in kinds,
        },
    )


@require_http_methods(["GET", "POST"])
def one_time(request: HttpRequest, token: str) -> HttpResponse:
    """GET says what waits (a mail scanner's prefetch spends nothing); POST shows it once."""
    client = client_address.sender(request.META.get("REMOTE_ADDR", ""))  # an IPv6 host's /64
    wait = ratelimit.seconds_to_wait("first-sign-in", client, limit=VIEWS_PER_MINUTE, window_s=60)
    if wait:
        busy = render(request, "first_sign_in/one_time.html", {"state": "busy"}, status=429)
        busy["Retry-After"] = str(wait)  # RFC 6585 §4
        return _private(busy)
    if request.method == "POST":
        viewing = deliveries.view_once(token, request=request)
    else:
        viewing = deliveries.look(token)
    status = 404 if viewing.state == "unknown" else 200
    context = {"state": viewing.state, "delivery": viewing.delivery, "secret": viewing.secret}
    context["msp"] = settings.MSP_NAME
    return _private(render(request, "first_sign_in/one_time.html", context, status=status))


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
