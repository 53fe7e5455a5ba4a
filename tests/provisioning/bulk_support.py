"""Helpers of the bulk tests: CSV text, uploads through the page, a sandbox-backed tenant."""

from __future__ import annotations

import csv
import io
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.models import Role
from provisioning.models import Batch
from tenants.models import RoleTemplate
from tests.factories import make_person
from tests.provisioning.directories import make_directories

ONBOARD_HEADER = [
    "first_name", "last_name", "role", "start_date", "username", "department", "job_title",
    "office", "usage_location", "employee_id",
]  # fmt: skip

# What the upload form posts for the offboarding options when nobody changes the preset.
OFFBOARD_OPTIONS = {
    "block_sign_in": "on", "okta_mode": "suspend", "revoke_sessions": "on",
    "reset_password": "on", "remove_groups": "on", "keep_groups": "", "remove_licenses": "on",
    "remove_apps": "on", "delete_after_days": "",
}  # fmt: skip


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def upload(client, tenant, content: bytes | str, kind: str = "onboard", name="people.csv", **extra):
    data = content.encode() if isinstance(content, str) else content
    url = reverse("bulk_upload", kwargs={"tenant": tenant.slug}) + f"?kind={kind}"
    return client.post(url, {"file": SimpleUploadedFile(name, data, "text/csv"), **extra})


def batch_of(response) -> Batch:
    assert response.status_code == 302, response.content.decode()[:2000]
    batch_id = int(response["Location"].rstrip("/").rsplit("/", 1)[1])
    return Batch.objects.get(pk=batch_id)


def sandbox_tenant(server, prefix: str = "bulk", kinds=("entra",)):
    """A tenant on fresh sandbox directories, with a second role template and a technician."""
    dirs = make_directories(server, f"{prefix}-{uuid.uuid4().hex[:6]}", kinds)
    dirs.support = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Support", groups=["Staff"], apps=["Slack"], department="Support"
    )
    dirs.technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    return dirs
