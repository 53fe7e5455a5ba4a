from django.contrib import admin
from django.db import models

from portal.models import Role, StaffProfile, role_of


def _msp_admins_only(request) -> bool:
    return request.user.is_active and role_of(request.user) == Role.MSP_ADMIN


admin.site.has_permission = _msp_admins_only


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
