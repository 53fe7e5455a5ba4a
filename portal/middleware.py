import uuid

from django.conf import settings
from django.shortcuts import redirect
from django.urls import reverse

from portal.models import Role, role_of


class RequestIdMiddleware:
    """Gives every request an id that the audit trail and the logs carry."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = (
            incoming[:64] if incoming.isprintable() and incoming else uuid.uuid4().hex
        )
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class AdminMfaMiddleware:
    """With REQUIRE_ADMIN_MFA, an MSP admin must pass TOTP before anything but the MFA pages."""

    allowed_prefixes = ("/account/mfa/", "/logout/", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            settings.REQUIRE_ADMIN_MFA
            and role_of(request.user) == Role.MSP_ADMIN
            and not request.user.is_verified()
            and not request.path.startswith(self.allowed_prefixes)
        ):
            return redirect(reverse("mfa"))
        return self.get_response(request)
