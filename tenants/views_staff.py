"""Staff management for MSP admins."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from portal.models import Role
from tenants import access
from tenants.staff import StaffForm, save_person

User = get_user_model()
MSP_ADMIN = (Role.MSP_ADMIN,)


@login_required
@require_GET
def staff_list(request):
    access.require_role(request.user, MSP_ADMIN)
    people = (
        User.objects.select_related("profile")
        .prefetch_related("assigned_tenants")
        .order_by("profile__role", "username")
    )
    return render(request, "tenants/staff_list.html", {"people": people})


@login_required
@require_http_methods(["GET", "POST"])
def staff_create(request):
    access.require_role(request.user, MSP_ADMIN)
    return _staff_form(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def staff_edit(request, person_id: int):
    access.require_role(request.user, MSP_ADMIN)
    return _staff_form(request, get_object_or_404(User, pk=person_id))


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
    return render(request, "tenants/staff_form.html", {"form": form, "person": person})
