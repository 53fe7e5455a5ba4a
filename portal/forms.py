import logging

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.signals import user_login_failed
from django.core.validators import MaxLengthValidator
from django.template import loader

from portal import mfa, signin, usernames
from portal.mail import send_one_time_link

log = logging.getLogger(__name__)

CODE_WIDGET = forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "none"})


class LoginForm(AuthenticationForm):
    """Username + password, and the second factor of people who have set one up."""

    saves_nothing = True  # a refused sign-in is not told "Nothing was saved"
    otp_token = forms.CharField(
        label="Authenticator code or recovery code",
        required=False,
        max_length=20,
        widget=CODE_WIDGET,
        help_text="Only if you have set up two-step sign-in.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django sets the username's max_length after the field is made, so only the widget
        # says it; a longer name was tried and stored as django-axes' failed attempt (a 500
        # on PostgreSQL, whose column takes 255).
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))

    def clean_username(self) -> str:
        """The account's own spelling of a name typed in another case or width, so that
        the password is checked against it and django-axes counts its failures once."""
        typed = self.cleaned_data["username"]
        holder = usernames.holder_of(typed)
        return holder.get_username() if holder is not None else typed

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        self.otp_device = None
        if user is not None and mfa.has_second_factor(user):
            token = self.cleaned_data.get("otp_token") or ""
            self.otp_device = mfa.match_second_factor(user, token)
            if self.otp_device is None:
                # Count it as a failed sign-in, so that throttling covers guessed codes too.
                setattr(self.request, signin.STEP_ATTR, signin.SECOND_FACTOR)
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
                # The password's box comes back empty (never rendered back): say to type it.
                raise forms.ValidationError(
                    "Enter the current code from your authenticator app, or a recovery code, "
                    "with your password again.",
                    code="otp_required",
                )
        return cleaned


class SecondFactorForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app, or a recovery code",
        max_length=20,
        widget=CODE_WIDGET,
    )


class TotpConfirmForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class ReauthForm(forms.Form):
    """The signed-in person's password, typed again before a change to how they sign in."""

    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )

    def __init__(self, request, *args, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        user = self.request.user
        setattr(self.request, signin.STEP_ATTR, signin.REAUTH)
        # authenticate() goes through django-axes: wrong passwords count towards a lockout.
        checked = authenticate(self.request, username=user.get_username(), password=password)
        if checked is None or checked.pk != user.pk:
            raise forms.ValidationError("That is not your password.", code="wrong_password")
        return password


class ResetRequestForm(PasswordResetForm):
    email = forms.EmailField(
        label="Your e-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ):
        """Django's, with the message marked as carrying a one-time link (portal/mail.py)."""
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        body = loader.render_to_string(email_template_name, context)
        try:
            send_one_time_link(subject, body, to_email)
        except OSError:  # SMTP down: the page says the same either way
            log.exception("Failed to send a password reset e-mail")
