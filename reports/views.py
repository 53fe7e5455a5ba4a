from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tenants import access
from tenants.models import DirectoryConnection


@login_required
@require_GET
def dashboard(request):
    access.require_role(request.user, access.READ_ROLES)
    tenants = access.tenants_for(request.user).annotate(
        connection_count=Count("connections", distinct=True),
        template_count=Count("role_templates", distinct=True),
    )
    soon = timezone.localdate() + timedelta(days=30)
    expiring = (
        DirectoryConnection.objects.filter(tenant__in=tenants, secret_expires_on__lte=soon)
        .select_related("tenant")
        .order_by("secret_expires_on")
    )
    quarantined = DirectoryConnection.objects.filter(
        tenant__in=tenants, quarantined_at__isnull=False
    ).select_related("tenant")
    return render(
        request,
        "reports/dashboard.html",
        {"tenants": tenants, "expiring_connections": expiring, "quarantined": quarantined},
    )


@login_required
@require_GET
def report_index(request):
    """The client reports this person may read, one per tenant."""
    access.require_role(request.user, access.READ_ROLES)
    tenants = access.tenants_for(request.user)
    return render(request, "reports/report_index.html", {"tenants": tenants})


def client_report(request, tenant: str):  # replaced below by the full report
    access.get_tenant_for(request.user, tenant)
    raise Http404("Not built yet.")


client_report_csv = licences_refresh = login_required(client_report)
client_report = login_required(client_report)
