from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import lockouts, mfa
from portal.models import Role, StaffProfile, has_role
from portal.views import password_again


def _msp_admins_only(request) -> bool:
    """MSP admins, in a session that passed the second factor of a person who has one (the
    admin's sign-in is the portal's: portal.views.admin_login)."""
    return (
        request.user.is_active
        and has_role(request.user, (Role.MSP_ADMIN,))
        and mfa.missing_step(request) is None
    )


admin.site.has_permission = _msp_admins_only

# django-otp's device admins would let an MSP admin read another person's authenticator key
# and recovery codes, or add and remove devices unaudited: the portal's own pages do that.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Changes go through the portal's audited forms; the admin is for looking."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Django's own user and group admins change passwords, active state and superuser flags with
# nothing on the audit trail: the staff pages do that (tenants/staff.py), recorded on the trail
# of every tenant the person is bound to. Here they are for looking, as everything else.
class UserReadOnlyAdmin(ReadOnlyAdmin, UserAdmin):
    pass


class GroupReadOnlyAdmin(ReadOnlyAdmin, GroupAdmin):
    pass


for _model, _model_admin in ((get_user_model(), UserReadOnlyAdmin), (Group, GroupReadOnlyAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, _model_admin)


@admin.register(StaffProfile)
class StaffProfileAdmin(ReadOnlyAdmin):
    list_display = ["user", "role", "all_tenants", "created_at"]
    list_filter = ["role"]


# Deleting django-axes' attempts unlocks sign-in: kept here (where an MSP admin looks for a
# lockout), recorded on the audit trail as the staff page's Unlock is (portal/lockouts.py).
class AuditedAccessAttemptAdmin(AccessAttemptAdmin):
    """Unlocking needs the password typed again, as the staff page's Unlock does."""

    def delete_view(self, request, object_id, extra_context=None):
        if not mfa.reauth_is_fresh(request):
            return password_again(request.path)
        return super().delete_view(request, object_id, extra_context)

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and not mfa.reauth_is_fresh(request):  # an action: delete
            return password_again(request.path)
        return super().changelist_view(request, extra_context)

    def delete_model(self, request, obj) -> None:
        lockouts.unlock(
            AccessAttempt.objects.filter(pk=obj.pk), actor=request.user, request=request
        )

    def delete_queryset(self, request, queryset) -> None:
        lockouts.unlock(queryset, actor=request.user, request=request)


class SignInLogAdmin(ReadOnlyAdmin):
    """django-axes' sign-in and failure logs: evidence, for looking only."""


class AccessLogReadOnlyAdmin(SignInLogAdmin, AccessLogAdmin):
    pass


class AccessFailureLogReadOnlyAdmin(SignInLogAdmin, AccessFailureLogAdmin):
    pass


for _model, _model_admin in (
    (AccessAttempt, AuditedAccessAttemptAdmin),
    (AccessLog, AccessLogReadOnlyAdmin),
    (AccessFailureLog, AccessFailureLogReadOnlyAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(_model, _model_admin)
