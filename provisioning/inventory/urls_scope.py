from django.urls import path

from provisioning.inventory import views_scope as views

urlpatterns = [
    path("tenants/<slug:tenant>/takeover/", views.inventory_policy, name="inventory_policy"),
]
