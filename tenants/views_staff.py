"""Staff management for MSP admins."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import account_limit, lockouts, mfa
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from tenants import access
from tenants.staff import StaffForm, reset_second_factor, save_person

User = get_user_model()
MSP_ADMIN = (Role.MSP_ADMIN,)


@login_required
@require_GET
def staff_list(request):
    access.require_role(request.user, MSP_ADMIN)
    people = (
        User.objects.select_related("profile")
        .prefetch_related("assigned_tenants")
        .annotate(has_app=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))
        .order_by("profile__role", "username")
    )
    return render(request, "tenants/staff_list.html", {"people": people})


@login_required
@require_http_methods(["GET", "POST"])
def staff_create(request):
    access.require_role(request.user, MSP_ADMIN)
    if not mfa.reauth_is_fresh(request):  # who may sign in, and as what: ask again
        return password_again(reverse("staff_create"))
    return _staff_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def staff_edit(request, person_id: int):
    access.require_role(request.user, MSP_ADMIN)
    person = get_object_or_404(User, pk=person_id)
    if not mfa.reauth_is_fresh(request):  # a role, the tenants, an account's second factor
        return password_again(reverse("staff_edit", args=[person.pk]))
    return _staff_form(request, person)


@login_required
@require_POST
def staff_mfa_reset(request, person_id: int):
    """An MSP admin removes another person's second factor (a lost phone)."""
    access.require_role(request.user, MSP_ADMIN)
    person = get_object_or_404(User, pk=person_id)
    if not mfa.reauth_is_fresh(request):
        return password_again(reverse("staff_edit", args=[person.pk]))
    if person == request.user:
        messages.error(request, "Replace your own authenticator app under Two-step sign-in.")
    elif reset_second_factor(person, actor=request.user, request=request):
        messages.success(request, f"Two-step sign-in of {person.username} was reset.")
    else:
        messages.info(request, f"{person.username} had no two-step sign-in to reset.")
    return redirect("staff_edit", person_id=person.pk)


@login_required
@require_POST
def staff_unlock(request, person_id: int):
    """An MSP admin lets a person locked out of sign-in try again before the cool-off ends."""
    access.require_role(request.user, MSP_ADMIN)
    person = get_object_or_404(User, pk=person_id)
    if not mfa.reauth_is_fresh(request):  # lets guesses at the person's password go on
        return password_again(reverse("staff_edit", args=[person.pk]))
    if lockouts.unlock_person(person, actor=request.user, request=request):
        still = " (but see below: a client's sign-ins still wait)"
        held = still if lockouts.clients_holding(person) else ""
        messages.success(request, f"{person.username} can sign in again{held}.")
    else:
        messages.info(request, f"{person.username} was not locked out.")
    return redirect("staff_edit", person_id=person.pk)


def _staff_form(request, person):
    form = StaffForm(request.POST or None, person=person)
    if request.method == "POST" and form.is_valid():
        if person == request.user and form.cleaned_data["role"] != Role.MSP_ADMIN:
            form.add_error("role", "You cannot take your own MSP admin role away.")
        else:
            saved = save_person(
                form.cleaned_data, person=person, actor=request.user, request=request
            )
            messages.success(request, f"Saved {saved.username}.")
            return redirect("staff_list")
    has_second_factor = person is not None and mfa.has_second_factor(person)
    context = {
        "form": form,
        "person": person,
        "has_second_factor": has_second_factor,
        "lockouts": lockouts.lockouts_of(person) if person is not None else [],
        "account_held_until": lockouts.account_held_until(person) if person is not None else None,
        "account_cap": settings.SIGNIN_FAILURES_PER_ACCOUNT_PER_HOUR,
        "clients_holding": lockouts.clients_holding(person) if person is not None else [],
        "client_cap": settings.SIGNIN_FAILURES_PER_CLIENT_PER_HOUR,
        "familiar_days": account_limit.FAMILIAR_DAYS,
    }
    return render(request, "tenants/staff_form.html", context)
