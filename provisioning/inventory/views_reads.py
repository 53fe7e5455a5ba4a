"""The inventory reads of a connection, as people see them: where the current or last read
stands (a partial that polls while a read runs, on the tenant's page and a page of its own)
and a read asked for on demand."""

from __future__ import annotations

import time

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from portal.fields import BoundedIntegerField
from portal.next_page import login_required
from provisioning.inventory import queries_people, tasks
from provisioning.inventory.models import Account, Cursor, Resource
from tenants import access
from tenants.models import DirectoryConnection

# After a read is asked for, the partial polls this long for a worker to start it.
START_WAIT_S = 60
PARTIAL = "inventory/_inventory_status.html"


class StatusForm(forms.Form):
    # When the person asked for a read (epoch seconds): poll until one has started since.
    asked = BoundedIntegerField(required=False, max_value=2**40)
    on_page = forms.BooleanField(required=False)  # the partial sits on its own page


@login_required
@require_GET
def inventory_status(request: HttpRequest, tenant: str, connection_id: int) -> HttpResponse:
    """htmx: the status partial (polling every 2 s while a read runs or is about to); else a
    page of its own with the connection's inventory in figures."""
    connection = access.get_connection_for(request.user, tenant, connection_id)
    form = StatusForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Give asked as a number of seconds.")
    context = status_context(connection, form.cleaned_data["asked"])
    context["on_page"] = form.cleaned_data["on_page"]
    if request.htmx:
        return render(request, PARTIAL, context)
    return render(
        request, "inventory/inventory_status.html", {**context, **inventory_figures(connection)}
    )


@login_required
@require_POST
def inventory_refresh(request: HttpRequest, tenant: str, connection_id: int) -> HttpResponse:
    """Operators: read the connection's directory now (after the commit, on a worker)."""
    connection = access.get_connection_for(
        request.user, tenant, connection_id, access.OPERATOR_ROLES
    )
    outcome = tasks.request_refresh(connection, actor=request.user, request=request)
    kind = connection.label
    note = {
        tasks.STARTED: f"Reading the {kind} directory now.",
        tasks.FOLLOWS: (
            f"A read of the {kind} directory is running: another starts once it ends and "
            "sees your changes."
        ),
        tasks.FOLLOWING: f"A read of the {kind} directory is running, and another follows it "
        "already.",
        tasks.QUARANTINED: f"The {kind} connection is quarantined: no read until it is released.",
    }[outcome]
    if request.htmx:
        asked = int(time.time()) if outcome == tasks.STARTED else None
        form = StatusForm(request.GET)
        on_page = form.is_valid() and form.cleaned_data["on_page"]
        context = {**status_context(connection, asked), "note": note, "on_page": on_page}
        return render(request, PARTIAL, context)
    asked_for = outcome in (tasks.STARTED, tasks.FOLLOWS)
    (messages.success if asked_for else messages.info)(request, note)
    return redirect(reverse("tenant_detail", kwargs={"tenant": connection.tenant.slug}))


def status_context(connection: DirectoryConnection, asked: int | None) -> dict:
    cursor = Cursor.objects.filter(connection=connection).first()
    waiting = bool(asked) and _not_started_since(cursor, asked)
    return {
        "tenant": connection.tenant,
        "connection": connection,
        "cursor": cursor,
        "waiting": waiting,
        "asked": asked if waiting else None,
    }


def _not_started_since(cursor: Cursor | None, asked: int) -> bool:
    """A read was asked for at `asked` and no worker has started one since (for a while)."""
    if time.time() - asked > START_WAIT_S:
        return False
    return cursor is None or cursor.started_at is None or cursor.started_at.timestamp() < asked


def inventory_figures(connection: DirectoryConnection) -> dict:
    rows = Account.objects.filter(connection=connection)
    catalogue = {
        kind: Resource.objects.filter(connection=connection, kind=kind).count()
        for kind in ("groups", "licenses", "apps")
    }
    return {
        "interval_minutes": settings.INVENTORY_INTERVAL_SECONDS // 60,
        "full_hours": settings.INVENTORY_FULL_READ_SECONDS // 3600,
        "apps_minutes": settings.INVENTORY_APPS_SECONDS // 60,
        "accounts": rows.filter(deleted=False).count(),
        "enabled": rows.filter(deleted=False, enabled=True).count(),
        "deleted": rows.filter(deleted=True).count(),
        "catalogue": catalogue,
        "kinds": queries_people.held_kinds(connection),
    }
