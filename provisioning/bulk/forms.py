"""The upload form (a file and, for leavers, the offboarding options of the run), and the
upload handler that refuses an oversized file while it arrives instead of storing it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

from portal.fields import PageForm, usable_filters
from provisioning.bulk import columns, parse
from provisioning.bulk.directory import GroupNames
from provisioning.lifecycle import services as lifecycle
from tenants.forms import LinesField
from tenants.models import Tenant

MAX_DELETE_AFTER_DAYS = 3650
FORM_OVERHEAD = 64 * 1024  # the multipart envelope and the other fields


class CappedUploadHandler(FileUploadHandler):
    """Skips (reads past, never keeps) a file larger than `cap`; `too_large` tells the form."""

    def __init__(self, request=None, cap: int = columns.MAX_BYTES):
        super().__init__(request)
        self.cap = cap
        self.too_large: int | None = None  # the size seen, when it is over the cap

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.cap + FORM_OVERHEAD:
            self.too_large = content_length

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.too_large:
            raise SkipFile()

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.cap:
            self.too_large = max(self.too_large or 0, start + len(raw_data))
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size):
        return None


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=f"UTF-8 CSV, at most {columns.MAX_ROWS:,} rows and "
        f"{columns.MAX_BYTES // 1024 // 1024} MB. Download the template for the columns.",
        error_messages={"required": "Choose a CSV file to upload.", "empty": "The file is empty."},
    )

    def __init__(self, *args, too_large: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        self.fields["file"].widget.attrs["accept"] = ".csv,.txt,text/csv"

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload is not None and upload.size > columns.MAX_BYTES:
            raise ValidationError(_too_large(upload.size))
        return upload

    def clean(self):
        if self.too_large:
            self.errors.pop("file", None)
            self.add_error("file", _too_large(self.too_large))
        return super().clean()

    def read(self) -> bytes:
        upload = self.cleaned_data["file"]
        return b"".join(upload.chunks())[: columns.MAX_BYTES + 1]


def _too_large(size: int) -> str:
    return (
        f"The file is {parse.megabytes(size)}; the most is {parse.megabytes(columns.MAX_BYTES)} "
        f"(about {columns.MAX_ROWS:,} rows). Split it into smaller files."
    )


class OffboardingOptionsForm(forms.Form):
    """What every row of an offboarding file does, unless its own columns say otherwise."""

    block_sign_in = forms.BooleanField(required=False, label="Block sign-in")
    okta_mode = forms.ChoiceField(
        choices=[("suspend", "Suspend (keeps app assignments)"), ("deactivate", "Deactivate")],
        label="Okta",
        help_text="Deactivate also drops every app assignment; suspend keeps them for a return.",
    )
    revoke_sessions = forms.BooleanField(required=False, label="Revoke sessions")
    reset_password = forms.BooleanField(required=False, label="Reset the password")
    remove_groups = forms.BooleanField(required=False, label="Remove from groups")
    keep_groups = LinesField(label="Groups to keep", help_text="One group a line.")
    remove_licenses = forms.BooleanField(required=False, label="Remove licences")
    remove_apps = forms.BooleanField(required=False, label="Remove app assignments")
    delete_after_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_DELETE_AFTER_DAYS,
        label="Delete the account after (days)",
        help_text="Blank: keep the disabled account.",
    )

    def __init__(self, *args, tenant: Tenant, **kwargs):
        self.preset = lifecycle.OffboardingOptions.preset_for(tenant)
        kwargs.setdefault("initial", self.preset.as_dict())
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        # As the one-person form: a tenant without Okta is not asked how to leave it there.
        self.has_okta = tenant.connections.filter(kind="okta").exists()
        if not self.has_okta:
            del self.fields["okta_mode"]

    def clean_keep_groups(self) -> list[str]:
        kept = self.cleaned_data["keep_groups"]
        groups = GroupNames(self.tenant)
        unknown = groups.unknown(kept)
        if unknown:
            raise ValidationError([groups.message(name, column="") for name in unknown])
        return kept

    def options(self) -> lifecycle.OffboardingOptions:
        return lifecycle.OffboardingOptions.from_dict(
            {"okta_mode": self.preset.okta_mode} | self.cleaned_data
        )


# The batch page's row filter: value -> label.
SHOW = {"errors": "With errors", "choice": "Need a choice", "valid": "Valid", "": "All rows"}


class BatchRowsForm(PageForm):
    """The batch page's query string: which rows, and the page of them."""

    show = forms.ChoiceField(required=False, choices=list(SHOW.items()), label="Rows")

    def show_value(self) -> str:
        return usable_filters(self).get("show") or ""
