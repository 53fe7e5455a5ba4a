from django.contrib import admin

from portal.admin import ReadOnlyAdmin
from tenants.models import DirectoryConnection, RoleTemplate, Tenant


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "primary_domain", "is_active"]
    search_fields = ["name", "slug", "primary_domain"]


@admin.register(DirectoryConnection)
class DirectoryConnectionAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "kind", "secret_set_at", "secret_expires_on"]
    exclude = ["secret_ciphertext"]
    readonly_fields = ["secret_set_at"]


@admin.register(RoleTemplate)
class RoleTemplateAdmin(ReadOnlyAdmin):
    list_display = ["name", "tenant", "username_rule"]
    list_filter = ["tenant"]
