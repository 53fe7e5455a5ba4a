"""The webhook pages. The MSP's own endpoints (every tenant's events) belong to MSP admins;
a tenant's endpoints to the MSP admins and the technicians of that tenant (operators), who
already see everything its events tell. Every object is fetched through the tenant scope
(tenants/access.py): another tenant's endpoint is a 404, a role that may not manage is a 403.
An endpoint outlives the session that made it, as an API token does: making one, sending one
to another address and a new secret need the password typed recently (portal.mfa).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal import errors, mfa, ratelimit
from portal.fields import PageForm
from portal.models import Role
from portal.next_page import login_required
from portal.views import password_again
from provisioning.events import describe
from provisioning.outbound import services
from provisioning.outbound.forms import DeliveryFilter, EndpointForm
from provisioning.outbound.models import Delivery, WebhookEndpoint
from tenants import access
from tenants.models import Tenant

DELIVERIES_PER_PAGE = 50


@dataclass(frozen=True)
class Scope:
    """The MSP's endpoints (tenant None) or one tenant's, and the URL names of its pages."""

    tenant: Tenant | None

    @property
    def prefix(self) -> str:
        return "outbound_msp" if self.tenant is None else "outbound_tenant"

    def url(self, page: str, **kwargs) -> str:
        if self.tenant is not None:
            kwargs["tenant"] = self.tenant.slug
        return reverse(f"{self.prefix}_{page}", kwargs=kwargs)

    @property
    def time_zone(self) -> str:
        """A tenant's pages tell time in its zone; the MSP's (every tenant) in the portal's."""
        return self.tenant.time_zone if self.tenant else timezone.get_current_timezone_name()

    def endpoints(self):
        return WebhookEndpoint.objects.filter(tenant=self.tenant).select_related("tenant")


def _scope(request: HttpRequest, tenant: str | None) -> Scope:
    if tenant is None:
        access.require_role(request.user, (Role.MSP_ADMIN,))
        return Scope(None)
    return Scope(access.get_tenant_for(request.user, tenant, access.OPERATOR_ROLES))


def _endpoint(request: HttpRequest, tenant: str | None, endpoint_id: int):
    scope = _scope(request, tenant)
    return scope, get_object_or_404(scope.endpoints(), pk=endpoint_id)


def _context(scope: Scope, **more) -> dict:
    section = "webhooks" if scope.tenant is None else "tenants"
    return {
        "scope": scope,
        "tenant": scope.tenant,
        "nav_section": section,
        "time_zone": scope.time_zone,
        **more,
    }


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"  # the page may hold a secret
    return response


@login_required
@require_GET
def endpoint_list(request: HttpRequest, tenant: str | None = None) -> HttpResponse:
    scope = _scope(request, tenant)
    rows = [
        (endpoint, scope.url("endpoint", endpoint_id=endpoint.pk)) for endpoint in scope.endpoints()
    ]
    return render(request, "outbound/endpoint_list.html", _context(scope, rows=rows))


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_create(request: HttpRequest, tenant: str | None = None) -> HttpResponse:
    scope = _scope(request, tenant)
    if not mfa.reauth_is_fresh(request):  # a feed of the events to an address: ask first
        return password_again(scope.url("create"))
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        endpoint, secret = services.create_endpoint(
            scope.tenant, _settings(form), actor=request.user, http_request=request
        )
        return _shown_once(request, scope, endpoint, secret)
    return render(request, "outbound/endpoint_form.html", _context(scope, form=form))


def _settings(form: EndpointForm) -> services.EndpointSettings:
    data = form.cleaned_data
    return services.EndpointSettings(data["name"], data["url"], data["kinds"], data["active"])


def _shown_once(request, scope: Scope, endpoint: WebhookEndpoint, secret: str) -> HttpResponse:
    context = _context(scope, endpoint=endpoint, secret=secret, **_urls(scope, endpoint))
    return _no_store(render(request, "outbound/secret_shown.html", context))


def _urls(scope: Scope, endpoint: WebhookEndpoint) -> dict:
    pages = ("endpoint", "edit", "rotate", "test", "switch_on", "delete")
    return {f"{page}_url": scope.url(page, endpoint_id=endpoint.pk) for page in pages} | {
        "list_url": scope.url("list")
    }


@login_required
@require_GET
def endpoint_detail(request: HttpRequest, endpoint_id: int, tenant: str | None = None):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    filters = DeliveryFilter(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    log = endpoint.deliveries.select_related("event__tenant")
    if status:
        log = log.filter(status=status)
    page_form = PageForm(request.GET)
    page = Paginator(log, DELIVERIES_PER_PAGE).get_page(page_form.number())
    context = _context(
        scope,
        endpoint=endpoint,
        filters=filters,
        page=page,
        page_form=page_form,
        rows=[
            (d, _about(d), scope.url("redeliver", endpoint_id=endpoint.pk, delivery_id=d.pk))
            for d in page
        ],
        query=f"status={status}&" if status else "",
        **_urls(scope, endpoint),
    )
    template = "outbound/endpoint_detail.html"
    return render(request, f"{template}#log" if request.htmx else template, context)


def _about(delivery: Delivery) -> tuple[str, str]:
    """The tenant and whom a delivered event is about: an MSP endpoint hears every tenant."""
    event = delivery.event
    if event is None:  # a test event
        return "", ""
    return (event.tenant.name if event.tenant else ""), describe.whom(event.data)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_edit(request: HttpRequest, endpoint_id: int, tenant: str | None = None):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    form = EndpointForm(request.POST or None, endpoint=endpoint)
    if request.method == "POST" and form.is_valid():
        if form.url_changes and not mfa.reauth_is_fresh(request):  # the feed goes elsewhere
            return password_again(scope.url("edit", endpoint_id=endpoint.pk))
        services.update_endpoint(
            endpoint, _settings(form), actor=request.user, http_request=request
        )
        messages.success(request, "Saved. The signing secret is unchanged.")
        return redirect(scope.url("endpoint", endpoint_id=endpoint.pk))
    context = _context(scope, form=form, endpoint=endpoint, **_urls(scope, endpoint))
    return render(request, "outbound/endpoint_form.html", context)


@login_required
@require_POST
def endpoint_rotate(request: HttpRequest, endpoint_id: int, tenant: str | None = None):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    if not mfa.reauth_is_fresh(request):  # a key to sign as the portal to the receiver
        return password_again(scope.url("endpoint", endpoint_id=endpoint.pk))
    secret = services.rotate_secret(endpoint, actor=request.user, http_request=request)
    endpoint.refresh_from_db()
    return _shown_once(request, scope, endpoint, secret)


def _sends_wait(request: HttpRequest) -> int:
    """0 while the person is within their test events and redeliveries this minute (one
    count for both: each is a request to the endpoint's host), else the seconds to wait."""
    return ratelimit.seconds_to_wait(
        "webhook-sends", str(request.user.pk), limit=settings.WEBHOOK_SENDS_PER_MINUTE, window_s=60
    )


def _too_many_sends(request: HttpRequest, wait: int, back: str) -> HttpResponse:
    reason = (
        f"Too many test events and redeliveries this minute (at most "
        f"{settings.WEBHOOK_SENDS_PER_MINUTE}): nothing was sent. Try again in {wait} s."
    )
    return errors.too_many(request, reason, wait, back)


@login_required
@require_POST
def endpoint_test(request: HttpRequest, endpoint_id: int, tenant: str | None = None):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    if wait := _sends_wait(request):
        return _too_many_sends(request, wait, scope.url("endpoint", endpoint_id=endpoint.pk))
    services.send_test(endpoint, actor=request.user, http_request=request)
    messages.success(request, "A test event is on its way; its delivery shows below.")
    return redirect(scope.url("endpoint", endpoint_id=endpoint.pk))


@login_required
@require_POST
def endpoint_switch_on(request: HttpRequest, endpoint_id: int, tenant: str | None = None):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    if services.switch_on(endpoint, actor=request.user, http_request=request):
        messages.success(request, "Switched on: new events are sent again.")
    return redirect(scope.url("endpoint", endpoint_id=endpoint.pk))


@login_required
@require_POST
def delivery_redeliver(
    request: HttpRequest, endpoint_id: int, delivery_id: int, tenant: str | None = None
):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    delivery = get_object_or_404(Delivery, endpoint=endpoint, pk=delivery_id)
    if wait := _sends_wait(request):
        return _too_many_sends(request, wait, scope.url("endpoint", endpoint_id=endpoint.pk))
    services.redeliver(delivery, actor=request.user, http_request=request)
    messages.success(request, "Sent again as a new delivery (same webhook-id).")
    return redirect(scope.url("endpoint", endpoint_id=endpoint.pk))


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, endpoint_id: int, tenant: str | None = None):
    scope, endpoint = _endpoint(request, tenant, endpoint_id)
    services.delete_endpoint(endpoint, actor=request.user, http_request=request)
    messages.success(request, f"Deleted {endpoint.name}: nothing more is sent to it.")
    return redirect(scope.url("list"))
