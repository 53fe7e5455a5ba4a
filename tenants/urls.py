from django.urls import path

from tenants import views, views_roles, views_staff

urlpatterns = [
    path("tenants/", views.tenant_list, name="tenant_list"),
    path("tenants/new/", views.tenant_create, name="tenant_create"),
    path("tenants/<slug:tenant>/", views.tenant_detail, name="tenant_detail"),
    path("tenants/<slug:tenant>/edit/", views.tenant_edit, name="tenant_edit"),
    path(
        "tenants/<slug:tenant>/connections/new/<str:kind>/",
        views.connection_create,
        name="connection_create",
    ),
    path(
        "tenants/<slug:tenant>/connections/<int:connection_id>/edit/",
        views.connection_edit,
        name="connection_edit",
    ),
    path("tenants/<slug:tenant>/roles/new/", views_roles.role_create, name="role_create"),
    path(
        "tenants/<slug:tenant>/roles/<int:template_id>/edit/",
        views_roles.role_edit,
        name="role_edit",
    ),
    path(
        "tenants/<slug:tenant>/roles/<int:template_id>/clone/",
        views_roles.role_clone,
        name="role_clone",
    ),
    path(
        "tenants/<slug:tenant>/roles/<int:template_id>/delete/",
        views_roles.role_delete,
        name="role_delete",
    ),
    path(
        "tenants/<slug:tenant>/roles/from-msp/<int:msp_template_id>/",
        views_roles.role_copy_from_msp,
        name="role_copy_from_msp",
    ),
    path("role-templates/", views_roles.msp_role_list, name="msp_role_list"),
    path("role-templates/new/", views_roles.msp_role_create, name="msp_role_create"),
    path("role-templates/preview/", views_roles.username_preview, name="username_preview"),
    path(
        "role-templates/<int:msp_template_id>/edit/",
        views_roles.msp_role_edit,
        name="msp_role_edit",
    ),
    path(
        "role-templates/<int:msp_template_id>/delete/",
        views_roles.msp_role_delete,
        name="msp_role_delete",
    ),
    path(
        "role-templates/<int:msp_template_id>/copy/",
        views_roles.role_copy_to_tenant,
        name="role_copy_to_tenant",
    ),
    path("staff/", views_staff.staff_list, name="staff_list"),
    path("staff/new/", views_staff.staff_create, name="staff_create"),
    path("staff/<int:person_id>/edit/", views_staff.staff_edit, name="staff_edit"),
    path("staff/<int:person_id>/mfa/reset/", views_staff.staff_mfa_reset, name="staff_mfa_reset"),
    path("staff/<int:person_id>/unlock/", views_staff.staff_unlock, name="staff_unlock"),
]
