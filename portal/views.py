import base64
from urllib.parse import urlencode, urlsplit

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse, reverse_lazy
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from portal import account_limit, client_address, lockouts, mfa, ratelimit, signin, usernames
from portal.audit.people import record_about
from portal.forms import LoginForm, ReauthForm, ResetRequestForm, SecondFactorForm, TotpConfirmForm
from portal.models import Role, has_role
from portal.next_page import login_required, next_path
from portal.reset_tokens import reset_tokens


def home_url(user) -> str:
    """Where a person starts: a client admin on their organisation's home (a URL of the
    provisioning app, named here only), everyone else on the default page."""
    if has_role(user, (Role.CLIENT_ADMIN,)):
        return resolve_url("client_landing")
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def password_again(then: str) -> HttpResponseRedirect:
    """To the password page, and back to `then` (a path of this site) once it was typed: for
    a second factor changed, or what makes a key that outlives the session (an API or SCIM
    token, the HR webhook's secret)."""
    return HttpResponseRedirect(f"{reverse('reauth')}?{urlencode({'next': then})}")


def _safe_next(request, default: str) -> str:
    """A `next` path of this site, else `default` (redirect to it with HttpResponseRedirect:
    redirect() would take a bare word for a URL name)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return next_path(request, target, default)


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        """Held before the password is tried when the account has taken too many failures
        from elsewhere (portal.account_limit)."""
        username = str(request.POST.get("username", ""))[: signin.USERNAME_LIMIT]
        held = account_limit.seconds_held(request, username)
        if held:
            signin.record_account_held(request, username, held)
            return lockouts.account_held_response(request, held)
        held = account_limit.seconds_client_held(request, username)
        if held:
            signin.record_client_held(request, username, held)
            return lockouts.client_held_response(request, held)
        return super().post(request, *args, **kwargs)

    def get_success_url(self) -> str:
        """A client admin bound for the default page lands on their organisation's home
        (a URL of the provisioning app, named here only)."""
        url = super().get_success_url()
        if url == resolve_url(settings.LOGIN_REDIRECT_URL):
            return home_url(self.request.user)
        return url

    def form_valid(self, form):
        device = form.otp_device
        response = super().form_valid(form)
        if device is not None:
            otp_login(self.request, device)
        mfa.stamp_reauth(self.request)  # the password was just typed
        signin.record_sign_in(self.request, self.request.user, device)
        return response


class LogoutView(auth_views.LogoutView):
    http_method_names = ["post", "options"]


@require_http_methods(["GET", "POST"])
def admin_login(request):
    """The Django admin signs in through the portal's sign-in, which asks for the second
    factor; it never takes a password itself."""
    target = _safe_next(request, default=reverse("admin:index"))
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?{urlencode({'next': target})}")
    if admin.site.has_permission(request):
        return HttpResponseRedirect(target)
    raise PermissionDenied("Only MSP admins may use the Django admin.")


# -- two-step sign-in ------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the authenticator's key and the recovery codes are shown here
def mfa_page(request):
    """Two-step sign-in: set it up, pass it for this session, or see and change it."""
    user = request.user
    if mfa.missing_step(request) == mfa.VERIFY:
        return _verify(request)
    if mfa.authenticator_of(user) is None:
        return _enrol(request)
    return render(
        request,
        "portal/mfa.html",
        {
            "has_app": mfa.authenticator_of(user) is not None,
            "codes_left": mfa.recovery_codes_left(user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the authenticator's key and the recovery codes are shown here
def mfa_enrol(request):
    """Set up (or replace) the authenticator app."""
    if mfa.missing_step(request) == mfa.VERIFY:
        return redirect("mfa")
    return _enrol(request)


@login_required
@require_POST
@never_cache  # the authenticator's key and the recovery codes are shown here
def mfa_recovery_codes(request):
    """A new set of recovery codes, shown once."""
    if mfa.authenticator_of(request.user) is None:
        return redirect("mfa")
    if not mfa.reauth_is_fresh(request):
        return password_again(reverse("mfa"))
    codes = mfa.regenerate_recovery_codes(request.user, request=request)
    return render(request, "portal/recovery_codes.html", {"codes": codes, "enrolled": False})


def _verify(request):
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = mfa.match_second_factor(request.user, form.cleaned_data["token"])
        if device is not None:
            mfa.passed(request, device)
            signin.record_second_factor_passed(request, request.user, device)
            return HttpResponseRedirect(_safe_next(request, default=home_url(request.user)))
        signin.record_budgeted(
            "auth.second_factor_failed",
            request,
            username=request.user.get_username(),
            user=request.user,
        )
        form.add_error(
            "token",
            "That code did not match. Check the time on your phone, or wait a few seconds "
            "after several wrong codes.",
        )
    return render(request, "portal/mfa_verify.html", {"form": form, "next": _next_of(request)})


def _enrol(request):
    if not mfa.reauth_is_fresh(request):
        return password_again(reverse("mfa_enrol"))
    user = request.user
    device = mfa.pending_authenticator(user)
    form = TotpConfirmForm(request.POST or None)
    allowed, _ = device.verify_is_allowed()
    if request.method == "POST" and form.is_valid() and not allowed:
        form.add_error("token", "Too many wrong codes in a row: wait a few seconds and try again.")
    elif request.method == "POST" and form.is_valid():
        if device.verify_token(mfa.normalise_code(form.cleaned_data["token"])):
            codes = mfa.enrol_authenticator(user, device, request=request)
            mfa.passed(request, device)
            context = {"codes": codes, "enrolled": True, "next": home_url(user)}
            return render(request, "portal/recovery_codes.html", context)
        form.add_error("token", "That code did not match. Check the time on your phone.")
    context = {
        "form": form,
        "replacing": mfa.authenticator_of(user) is not None,
        "qr_svg": _qr_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode(),
    }
    return render(request, "portal/mfa_enrol.html", context)


def _next_of(request) -> str:
    return _safe_next(request, default="")


@login_required
@require_http_methods(["GET", "POST"])
def reauth(request):
    """The password again, before a change to how people sign in, or a key or feed that
    outlives the session."""
    if request.method == "POST" and (held := _account_held(request)):
        return held
    form = ReauthForm(request, request.POST or None)
    if request.method == "POST" and form.is_valid():
        mfa.stamp_reauth(request)
        record_about(
            request.user, "auth.reauth", actor=request.user, target=request.user, request=request
        )
        return HttpResponseRedirect(_safe_next(request, default=reverse("mfa")))
    return render(request, "portal/reauth.html", {"form": form, "next": _next_of(request)})


def _account_held(request):
    """The lockout page when the account's cap holds this address (portal.account_limit), as
    the sign-in page answers before the password is tried; else None."""
    username = request.user.get_username()
    held = account_limit.seconds_held(request, username)
    if not held:
        return None
    signin.record_account_held(request, username, held)
    return lockouts.account_held_response(request, held)


def _qr_svg(data: str) -> str:
    """The QR code as an <svg> element to put in the page (no XML declaration: HTML has none)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308 - our own generated SVG


# -- password reset --------------------------------------------------------------------------

TOO_MANY_RESETS = (
    "Too many reset requests for this address or from your network: try again in an hour, "
    "or ask an MSP admin."
)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset e-mail, limited per address and client, audited; the page says the same
    whether or not the address belongs to anyone."""

    form_class = ResetRequestForm
    template_name = "portal/password_reset_form.html"
    email_template_name = "email/password_reset.txt"
    subject_template_name = "email/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")
    token_generator = reset_tokens

    def form_valid(self, form):
        email = form.cleaned_data["email"]
        wait = _reset_wait(self.request, email)
        if wait:
            signin.record_budgeted(
                "auth.password_reset_requested",
                self.request,
                username="",
                after={"email": email, "reason": "too many requests"},
                result="denied",
            )
            form.add_error(None, TOO_MANY_RESETS)
            refused = self.render_to_response(self.get_context_data(form=form), status=429)
            refused["Retry-After"] = str(wait)  # RFC 6585 §4
            return refused
        people = list(form.get_users(email))
        portal = urlsplit(settings.PORTAL_URL)
        # The link names our own address, never the request's Host header.
        form.save(
            domain_override=portal.netloc,
            use_https=portal.scheme == "https",
            token_generator=self.token_generator,
            email_template_name=self.email_template_name,
            subject_template_name=self.subject_template_name,
            request=self.request,
            extra_email_context={"msp_name": settings.MSP_NAME, "valid_minutes": _valid_minutes()},
        )
        signin.record_budgeted(
            "auth.password_reset_requested",
            self.request,
            username=people[0].get_username() if len(people) == 1 else "",
            user=people[0] if len(people) == 1 else None,
            after={"email": email, "accounts": len(people)},
            result="success",
        )
        return redirect(self.get_success_url())


def _reset_wait(request, email: str) -> int:
    """0 while this client and this address are within their hourly resets (each counted),
    else the seconds until the later of their windows ends."""
    per_client = ratelimit.seconds_to_wait(
        "password-reset-client",
        client_address.sender(request.META.get("REMOTE_ADDR", "")),
        limit=settings.PASSWORD_RESETS_PER_CLIENT_PER_HOUR,
        window_s=3600,
    )
    per_email = ratelimit.seconds_to_wait(
        "password-reset-email",
        # As Django finds the person (NFKC case folds): "ſ" is an "s" there, not to lower().
        usernames.folded(email.strip()),
        limit=settings.PASSWORD_RESETS_PER_EMAIL_PER_HOUR,
        window_s=3600,
    )
    return max(per_client, per_email)


def _valid_minutes() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 60)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"
    extra_context = {"valid_minutes": _valid_minutes}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link from the e-mail: works once (the token covers the password hash), and does
    not sign in, so a person with a second factor still needs it to get in."""

    template_name = "portal/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")
    token_generator = reset_tokens

    def get_user(self, uidb64):
        """Nobody for a deactivated person: Django's view asks nothing of `is_active`, and a
        deactivation changes nothing the token covers, so a link mailed before it set a
        password on the account while it was off (asked on opening and on submitting)."""
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form):
        response = super().form_valid(form)
        record_about(
            form.user,
            "auth.password_reset_done",
            actor=form.user,
            target=form.user,
            request=self.request,
        )
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_reset_complete.html"
