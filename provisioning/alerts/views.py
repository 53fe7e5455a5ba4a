from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from portal.next_page import login_required
from provisioning.access.forms import posted
from provisioning.alerts import rules, services
from provisioning.alerts.forms import AlertPreferencesForm
from tenants import access


@login_required
@require_http_methods(["GET", "POST"])
def alert_settings(request: HttpRequest) -> HttpResponse:
    """The signed-in person's own alert choices; nobody reaches another person's."""
    access.require_role(request.user, access.READ_ROLES)
    offered = rules.offered(request.user)
    current = rules.preferences_of(request.user)
    form = AlertPreferencesForm(
        posted(request), offered=offered, initial=AlertPreferencesForm.initial_from(current)
    )
    if request.method == "POST" and form.is_valid():
        services.set_preferences(request.user, form.cleaned_data, http_request=request)
        messages.success(request, "Saved your alert settings.")
        return redirect("alert_settings")
    context = {"form": form, "nav_section": "account", "offered": offered}
    return render(request, "alerts/settings.html", context)
