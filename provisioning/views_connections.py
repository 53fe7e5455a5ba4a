from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from portal.models import Role
from portal.next_page import login_required
from provisioning import quarantine
from provisioning.checks import check_connection
from provisioning.forms import HoldForm
from tenants import access
from tenants.services import save_discovery


@login_required
@require_POST
def connection_test(request, tenant: str, connection_id: int):
    """htmx: a real sign-in and a few reads through the connector, in plain words."""
    connection = access.get_connection_for(
        request.user, tenant, connection_id, (Role.MSP_ADMIN, Role.TECHNICIAN)
    )
    result = check_connection(connection)
    if result.ok and result.discovered:  # a SCIM app: keep what it declared for the jobs
        save_discovery(connection, result.discovered, actor=request.user, request=request)
    return render(
        request,
        "tenants/tenant_detail.html#connection-test",
        {"connection": connection, "result": result},
    )


@login_required
@require_POST
def connection_hold(request: HttpRequest, tenant: str, connection_id: int) -> HttpResponse:
    """MSP admin: quarantine a connection by hand; no probe releases it, only a person."""
    connection = access.get_connection_for(request.user, tenant, connection_id, (Role.MSP_ADMIN,))
    back = redirect(reverse("tenant_detail", kwargs={"tenant": connection.tenant.slug}))
    form = HoldForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not held, the reason is refused: {form.errors['reason'][0]}")
        return back
    reason = form.cleaned_data["reason"]
    kind = connection.label
    if quarantine.hold(connection, actor=request.user, reason=reason, request=request):
        messages.success(request, f"Holding the {kind} connection: its jobs wait until released.")
    else:
        messages.info(request, f"The {kind} connection is held already.")
    return back
