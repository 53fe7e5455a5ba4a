from django.contrib import admin
from django.urls import include, path

from portal import views

admin.site.site_header = "MSP portal administration"

handler400 = "portal.errors.bad_request"
handler403 = "portal.errors.permission_denied"
handler404 = "portal.errors.page_not_found"
handler500 = "portal.errors.server_error"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("account/mfa/", views.mfa_page, name="mfa"),
    path("account/mfa/enrol/", views.mfa_enrol, name="mfa_enrol"),
    path("account/mfa/recovery-codes/", views.mfa_recovery_codes, name="mfa_recovery_codes"),
    path("account/reauth/", views.reauth, name="reauth"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    # Before the admin's own: its sign-in would take a password without the second factor.
    path("admin/login/", views.admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
    path("", include("reports.urls")),
    path("", include("tenants.urls")),
    path("", include("tenants.outbox.urls")),
    path("", include("provisioning.urls")),
]
