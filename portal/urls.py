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
    path("account/mfa/", views.mfa, name="mfa"),
    path("admin/", admin.site.urls),
    path("", include("reports.urls")),
    path("", include("tenants.urls")),
    path("", include("provisioning.urls")),
]
