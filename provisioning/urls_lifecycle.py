"""URLs of the lifecycle pages (included by provisioning/urls.py)."""

urlpatterns: list = []
