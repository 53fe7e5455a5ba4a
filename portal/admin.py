from django.contrib import admin
from django.db import models
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import mfa
from portal.models import Role, StaffProfile, role_of


def _msp_admins_only(request) -> bool:
    """MSP admins, in a session that passed the second factor of a person who has one (the
    admin's sign-in is the portal's: portal.views.admin_login)."""
    return (
        request.user.is_active
        and role_of(request.user) == Role.MSP_ADMIN
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


@admin.register(StaffProfile)
class StaffProfileAdmin(ReadOnlyAdmin):
    list_display = ["user", "role", "all_tenants", "created_at"]
    list_filter = ["role"]
