"""URLs of access requests and the client admin portal (included by provisioning/urls.py)."""

from django.urls import path

from provisioning.access import views as views_access
from provisioning.access import views_portal as views_access_portal
from provisioning.access import views_requests as views_access_requests
from provisioning.access import views_resources as views_access_resources

TENANT = "tenants/<slug:tenant>"
REQUESTS = f"{TENANT}/access/requests"
RESOURCES = f"{TENANT}/access/resources"
ACTIONS = f"{TENANT}/actions"

urlpatterns = [
    path(
        f"{REQUESTS}/<int:request_id>/",
        views_access.request_detail,
        name="access_request_detail",
    ),
    path(
        f"{REQUESTS}/<int:request_id>/decide/",
        views_access.request_decide,
        name="access_request_decide",
    ),
    path(f"{REQUESTS}/", views_access_requests.request_list, name="access_request_list"),
    path(f"{REQUESTS}/new/", views_access_requests.request_new, name="access_request_new"),
    path(
        f"{REQUESTS}/<int:request_id>/cancel/",
        views_access_requests.request_cancel,
        name="access_request_cancel",
    ),
    path(
        f"{REQUESTS}/<int:request_id>/revoke/",
        views_access_requests.request_revoke,
        name="access_request_revoke",
    ),
    path(
        f"{REQUESTS}/<int:request_id>/extend/",
        views_access_requests.request_extend,
        name="access_request_extend",
    ),
    path(f"{RESOURCES}/", views_access_resources.requestable_list, name="requestable_list"),
    path(f"{RESOURCES}/new/", views_access_resources.requestable_new, name="requestable_new"),
    path(
        f"{RESOURCES}/<int:resource_id>/edit/",
        views_access_resources.requestable_edit,
        name="requestable_edit",
    ),
    path("home/", views_access_portal.client_landing, name="client_landing"),
    path(f"{TENANT}/home/", views_access_portal.client_home, name="client_home"),
    path(
        f"{TENANT}/home/waiting/",
        views_access_portal.client_home_waiting,
        name="client_home_waiting",
    ),
    path("home/waiting/", views_access_portal.waiting_badge, name="waiting_badge"),
    path(f"{ACTIONS}/", views_access_portal.action_request_list, name="action_request_list"),
    path(f"{ACTIONS}/new/", views_access_portal.action_request_new, name="action_request_new"),
    path(
        f"{ACTIONS}/<int:action_request_id>/done/",
        views_access_portal.action_request_done,
        name="action_request_done",
    ),
    path(
        f"{ACTIONS}/<int:action_request_id>/decline/",
        views_access_portal.action_request_decline,
        name="action_request_decline",
    ),
    path("account/emails/", views_access_portal.email_settings, name="email_settings"),
]
