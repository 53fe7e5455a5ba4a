"""URLs of the webhook pages (included by provisioning/urls.py)."""

urlpatterns: list = []
