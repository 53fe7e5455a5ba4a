from django.urls import path

from provisioning.first_sign_in import views

urlpatterns = [
    path(
        "tenants/<slug:tenant>/first-sign-in/",
        views.policy_settings,
        name="first_sign_in_settings",
    ),
    path("first-sign-in/<str:token>/", views.one_time, name="first_sign_in_view"),
]
