"""URLs of the bulk pages (included by provisioning/urls.py)."""

urlpatterns: list = []
