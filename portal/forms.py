from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django_otp import match_token, user_has_device


class LoginForm(AuthenticationForm):
    """Username + password, and the TOTP code for people who have enrolled a device."""

    otp_token = forms.CharField(
        label="Authenticator code",
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Only if you have set up an authenticator app.",
    )

    def clean(self):
        cleaned = super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user):
            token = (self.cleaned_data.get("otp_token") or "").strip()
            self.otp_device = match_token(user, token) if token else None
            if self.otp_device is None:
                # Count it as a failed login so that throttling covers guessed codes too.
                user_login_failed.send(
                    sender=__name__,
                    credentials={"username": user.get_username()},
                    request=self.request,
                )
                raise forms.ValidationError(
                    "Enter the current code from your authenticator app.", code="otp_required"
                )
        else:
            self.otp_device = None
        return cleaned


class TotpConfirmForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
