"""URLs of the webhook pages (included by provisioning/urls.py)."""

from django.urls import path

from provisioning.webhook import views as views_webhook

urlpatterns = [
    # <str:>, not <slug:>: a request to a malformed tenant name is recorded too.
    path("hooks/hr/<str:tenant>/", views_webhook.hr_webhook, name="hr_webhook"),
    path(
        "tenants/<slug:tenant>/hr-webhook/",
        views_webhook.hr_webhook_events,
        name="hr_webhook_events",
    ),
    path(
        "tenants/<slug:tenant>/hr-webhook/secret/",
        views_webhook.hr_webhook_secret,
        name="hr_webhook_secret",
    ),
]
