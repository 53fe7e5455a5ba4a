from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_POST

from portal.models import Role
from provisioning.checks import check_connection
from tenants import access


@login_required
@require_POST
def connection_test(request, tenant: str, connection_id: int):
    """htmx: a real sign-in and a few reads through the connector, in plain words."""
    connection = access.get_connection_for(
        request.user, tenant, connection_id, (Role.MSP_ADMIN, Role.TECHNICIAN)
    )
    return render(
        request,
        "tenants/tenant_detail.html#connection-test",
        {"connection": connection, "result": check_connection(connection)},
    )
