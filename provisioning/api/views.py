"""The API token pages: a person's own tokens (list, issue, revoke) and, for MSP admins,
everyone's. Issuing and revoking go through provisioning.api.tokens (audited there)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from portal import mfa
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from provisioning.api import tokens
from provisioning.api.forms import TokenForm
from provisioning.api.models import ApiToken
from tenants import access

SENT_AGAIN = (
    "That form was sent before: its token was made then, and its secret shown that once. "
    "Nothing new was made. If the secret was not copied, revoke that token and make another."
)


def _token_for(user, token_id: int) -> ApiToken:
    """The person's own token; an MSP admin may reach anyone's. 404 for the rest."""
    mine = access.own_or_everyones(user, ApiToken.objects.select_related("user"))
    token = mine.filter(pk=token_id).first()
    if token is None:
        raise Http404("No such token.")
    return token


@login_required
@require_GET
def token_list(request: HttpRequest) -> HttpResponse:
    access.require_role(request.user, access.READ_ROLES)
    mine = ApiToken.objects.filter(user=request.user).prefetch_related("tenants")
    return render(request, "api/token_list.html", {"api_tokens": mine, "nav_section": "api-tokens"})


@login_required
@require_http_methods(["GET", "POST"])
def token_create(request: HttpRequest) -> HttpResponse:
    access.require_role(request.user, access.READ_ROLES)
    if not mfa.reauth_is_fresh(request):  # a token acts as the person for months: ask again
        return password_again(reverse("api_token_create"))
    form = TokenForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            token, clear = tokens.issue(
                request.user,
                form.cleaned_data["name"],
                expires_at=form.expires_at(),
                read_only=form.cleaned_data["read_only"],
                tenants=form.cleaned_data["tenants"],
                form_key=form.cleaned_data["form_key"] or None,
                http_request=request,
            )
        except tokens.FormSentAgain:
            messages.warning(request, SENT_AGAIN)
            return redirect("api_tokens")
        # The only time the clear token exists outside the caller: never stored, never cached.
        response = render(request, "api/token_created.html", {"token": token, "clear": clear})
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "api/token_form.html", {"form": form, "nav_section": "api-tokens"})


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, api_token_id: int) -> HttpResponse:
    access.require_role(request.user, access.READ_ROLES)
    token = _token_for(request.user, api_token_id)
    back = "api_tokens" if token.user_id == request.user.pk else "api_tokens_all"
    if request.method == "GET":
        return render(request, "api/token_revoke.html", {"token": token, "back": back})
    if tokens.revoke(token, actor=request.user, http_request=request):
        messages.success(request, f"Revoked the API token “{token.name}”.")
    else:
        messages.info(request, f"The API token “{token.name}” was revoked already.")
    return redirect(back)


@login_required
@require_GET
def token_list_all(request: HttpRequest) -> HttpResponse:
    """Every person's tokens (MSP admins)."""
    access.require_role(request.user, (Role.MSP_ADMIN,))
    every = ApiToken.objects.select_related("user__profile").prefetch_related("tenants")
    return render(
        request, "api/token_list_all.html", {"api_tokens": every, "nav_section": "api-tokens"}
    )
