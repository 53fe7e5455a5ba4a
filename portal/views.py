import base64
import io

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render, resolve_url
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal.audit.events import record
from portal.forms import LoginForm, TotpConfirmForm
from portal.models import Role, role_of


def home_url(user) -> str:
    """Where a person starts: a client admin on their organisation's home (a URL of the
    provisioning app, named here only), everyone else on the default page."""
    if role_of(user) == Role.CLIENT_ADMIN:
        return resolve_url("client_landing")
    return resolve_url(settings.LOGIN_REDIRECT_URL)


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        """A client admin bound for the default page lands on their organisation's home
        (a URL of the provisioning app, named here only)."""
        url = super().get_success_url()
        if url == resolve_url(settings.LOGIN_REDIRECT_URL):
            return home_url(self.request.user)
        return url

    def form_valid(self, form):
        response = super().form_valid(form)
        if form.otp_device is not None:
            otp_login(self.request, form.otp_device)
        return response


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@login_required
@require_http_methods(["GET", "POST"])
def mfa(request):
    """Enrol an authenticator app (TOTP) and verify this session with it."""
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    device = confirmed or TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    form = TotpConfirmForm(request.POST or None)
    allowed, _ = device.verify_is_allowed()
    if request.method == "POST" and form.is_valid() and not allowed:
        form.add_error("token", "Too many wrong codes in a row: wait a few seconds and try again.")
    elif request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"].strip()):
            if not device.confirmed:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                record("staff.mfa_enrolled", actor=user, target=user, request=request)
            otp_login(request, device)
            return redirect(home_url(user))
        form.add_error("token", "That code did not match. Check the time on your phone.")
    context = {"form": form, "confirmed": device.confirmed, "verified": user.is_verified()}
    if not device.confirmed:
        context["qr_svg"] = _qr_svg(device.config_url)
        context["secret"] = base64.b32encode(device.bin_key).decode()
    return render(request, "portal/mfa.html", context)


def _qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return mark_safe(buffer.getvalue().decode())  # noqa: S308 - our own generated SVG
