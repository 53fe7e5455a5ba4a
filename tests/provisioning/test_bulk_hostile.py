"""Hostile and broken uploads: each gets one clear message on the upload page (never a server
error), nothing is stored, and formulas typed into cells come back neutralised in the result
CSV. Files that fail as a whole never reach a directory, so they use the base world."""

import csv
import io
import os

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.bulk import columns, service
from provisioning.models import Batch
from tests.provisioning.bulk_support import (
    OFFBOARD_OPTIONS,
    ONBOARD_HEADER,
    batch_of,
    csv_text,
    sandbox_tenant,
    upload,
)

pytestmark = pytest.mark.django_db

HEADER = ",".join(ONBOARD_HEADER)
ROW = "Ada,Lovelace,Sales,,,,,,,"


def refused(client, tenant, content, message, **kwargs) -> None:
    batches, events = Batch.objects.count(), AuditEvent.objects.count()
    response = upload(client, tenant, content, **kwargs)
    assert response.status_code == 200
    errors = response.context["form"].errors.get("file", [])
    assert any(message in error for error in errors), errors
    assert "Nothing was saved." in response.content.decode()
    assert (Batch.objects.count(), AuditEvent.objects.count()) == (batches, events)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\r\n\r\n  \r\n", "The file is empty"),
        (os.urandom(4096) + b"\x00", "This is not a text file (it holds binary data)."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "This is not a text file"),
        (b"PK\x03\x04" + os.urandom(200), "This is an Excel workbook (.xlsx)"),
        (b"\xd0\xcf\x11\xe0" + os.urandom(200), "an old Excel workbook (.xls)"),
        (b"%PDF-1.7\n", "This is a PDF document"),
        (b"Ada,Lovelace,Sales\r\n", "The first line must be the header row"),
        (b"first_name|last_name|role\r\nAda|Lovelace|Sales\r\n", "must be the header row"),
        (f"{HEADER},colour\r\n{ROW},blue\r\n".encode(), "Unknown column colour"),
        (b"first_name,role\r\nAda,Sales\r\n", "The header lacks the column last_name."),
        (b"first_name,last_name,role,role\r\n", "names role more than once"),
        (f"{HEADER}\r\n".encode(), "The file has its header but no rows"),
        (f"{HEADER}\r\n# a comment\r\n".encode(), "The file has its header but no rows"),
        (b"\x81\x8d\x8f\x90\x9d first_name", "The file is not UTF-8 text."),
        (b"\xff\xfe\x00\xd8", "The file says it is UTF-16 but is not."),
        # Excel's "Unicode text" with a NUL in a cell: PostgreSQL refuses it in the rows (500).
        (f"{HEADER}\r\nAda,Love\x00lace,Sales\r\n".encode("utf-16"),
         "This is not a text file (it holds binary data)."),
        (b"first_name,last_name,role\r\n\x01\x02\x03\x04\x05\x06\x07\x08" * 10,
         "it holds control characters"),
        (f'{HEADER}\r\nAda,"{"x" * 200_000}",Sales\r\n'.encode(),
         "has a cell of more than 131,072 characters"),
    ],
)  # fmt: skip
def test_a_broken_file_gets_a_clear_message(client, alpha, content, message):
    client.force_login(alpha.technician)
    refused(client, alpha.tenant, content, message)


def test_more_rows_than_allowed_is_refused(client, alpha):
    client.force_login(alpha.technician)
    rows = "".join(f"Ada,Lovelace{n},Sales\r\n" for n in range(columns.MAX_ROWS + 1))
    refused(client, alpha.tenant, f"first_name,last_name,role\r\n{rows}", "more than 5,000 rows")


def test_a_50_mb_upload_is_refused_while_it_arrives(client, alpha):
    client.force_login(alpha.technician)
    line = f"{ROW}\r\n".encode()
    content = HEADER.encode() + b"\r\n" + line * (50 * 1024 * 1024 // len(line))
    refused(client, alpha.tenant, content, "The file is 50.0 MB; the most is 5.0 MB")
    response = upload(client, alpha.tenant, content)
    assert "file" not in response.wsgi_request.FILES  # skipped as it arrived, never spooled


def test_offboarding_file_with_onboarding_columns_says_which_columns(client, alpha):
    client.force_login(alpha.technician)
    refused(
        client, alpha.tenant, f"{HEADER}\r\n{ROW}\r\n", "This looks like an onboarding file",
        kind="offboard", **OFFBOARD_OPTIONS,
    )  # fmt: skip


# -- files that are read, with a note --------------------------------------------------------


@pytest.fixture
def dirs(on_sandbox):
    return sandbox_tenant(on_sandbox, "hostile")


def preview_of(client, dirs, batch) -> str:
    url = reverse("bulk_batch", kwargs={"tenant": dirs.tenant.slug, "batch_id": batch.pk})
    return client.get(url).content.decode()


@pytest.mark.parametrize(
    ("delimiter", "note"), [(";", "separated by semicolons"), ("\t", "separated by tabs")]
)
def test_semicolons_and_tabs_are_recognised(client, dirs, delimiter, note):
    client.force_login(dirs.technician)
    rows = [["José", "Müller", "Sales", "", "", "Vertrieb, Süd", "", "", "DE", ""]]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows, delimiter)))
    row = batch.rows.get()
    assert row.errors == [] and row.data["input"]["department"] == "Vertrieb, Süd"
    assert row.data["username"] == f"jose.muller@{dirs.tenant.primary_domain}"
    assert f"The columns are {note}." in preview_of(client, dirs, batch)


def test_windows_1252_is_read_with_a_note_and_utf16_without(client, dirs):
    client.force_login(dirs.technician)
    text = csv_text(ONBOARD_HEADER, [["José", "Müller", "Sales", "", "", "", "", "", "", ""]])
    batch = batch_of(upload(client, dirs.tenant, text.encode("cp1252")))
    assert batch.rows.get().data["input"]["first_name"] == "José"
    assert "it was read as Windows-1252" in preview_of(client, dirs, batch)
    zoe = ["Zoë", "Ørsted", "Sales", "", "", "", "", "", "", ""]
    tabbed = csv_text(ONBOARD_HEADER, [zoe], "\t")
    batch = batch_of(upload(client, dirs.tenant, tabbed.encode("utf-16")))  # Excel "Unicode text"
    assert batch.rows.get().data["username"] == f"zoe.orsted@{dirs.tenant.primary_domain}"
    assert batch.options["notes"] == ["The columns are separated by tabs."]


def test_formulas_in_cells_are_neutralised_in_the_result_csv(client, dirs):
    client.force_login(dirs.technician)
    evil = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", '@HYPERLINK("http://x")']
    rows = [
        [evil[0], "Evil", "Sales", "", "", "", "", "", "", ""],
        ["Ada", evil[1], "Sales", "", "", "", "", "", "", ""],
        ["Bob", "Builder", "Sales", "", "", evil[3], "", "", "", evil[2]],
        ["Cy", "Tab", "Sales", "", "", "", "\t=1+1", "", "", ""],
    ]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert batch.rows_valid == 0  # a name or attribute that looks like a formula is refused
    url = reverse("bulk_result", kwargs={"tenant": dirs.tenant.slug, "batch_id": batch.pk})
    response = client.get(url)
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
    result = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert result[0] == ["row", *ONBOARD_HEADER, "assigned_username", "outcome", "job_id", "error"]
    cells = [cell for line in result[1:] for cell in line]
    for formula in evil + ["=1+1"]:
        assert "'" + formula in cells, formula
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert {line[-3] for line in result[1:]} == {"invalid"}
    # The rows of people it hands out are an export, audited as each report's is.
    exported = AuditEvent.objects.get(action="report.export")
    assert exported.tenant_id == dirs.tenant.pk
    assert exported.actor_username == dirs.technician.username
    assert exported.target_type == "batch" and exported.target_id == str(batch.pk)


def test_control_characters_in_the_file_name_are_left_out(client, dirs):
    """A file name is shown on the batch pages and in the trail: a right-to-left override
    would show "pay‮roll.csv" reversed, an escape could colour a terminal's log. Django's
    upload parser drops them from what a browser sends; the bulk service drops them from
    whatever name it is given, so no caller (a script, a later API) stores them."""
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]]
    name = "pay\u202eroll\x1b[31m\x07\u200b.csv"
    batch = service.upload(
        dirs.tenant, "onboard", name, csv_text(ONBOARD_HEADER, rows).encode(), actor=dirs.technician
    )
    assert batch.filename == "payroll[31m.csv"
    event = AuditEvent.objects.filter(action="batch.upload").latest("pk")
    assert event.after["filename"] == "payroll[31m.csv"
    client.force_login(dirs.technician)
    page = preview_of(client, dirs, batch)
    assert "payroll[31m.csv" in page and "\u202e" not in page and "\x1b" not in page
    through_the_page = batch_of(
        upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows), name=name)
    )
    assert through_the_page.filename == "payroll[31m.csv"


def test_a_file_name_of_control_characters_only_is_named_for_what_it_is(dirs):
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]]
    text = csv_text(ONBOARD_HEADER, rows).encode()
    batch = service.upload(dirs.tenant, "onboard", "\u202e\x1b", text, actor=dirs.technician)
    assert batch.filename == "upload.csv"
