"""A CSV file of good rows and every kind of bad row: the preview names each problem on its
line, nothing is queued before the technician confirms, and confirming queues only the valid
rows. Usernames are checked against the portal and a real sandbox directory."""

import csv
import html
import io
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from portal.audit.models import AuditEvent
from provisioning.bulk import service
from provisioning.models import Batch, BatchRow, Identity, Job
from tenants import clock
from tenants.models import AttributeMapping
from tests.provisioning.bulk_support import (
    OFFBOARD_OPTIONS,
    ONBOARD_HEADER,
    batch_of,
    csv_text,
    sandbox_tenant,
    upload,
)
from tests.provisioning.scim_apps import connect, make_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def dirs(on_sandbox):
    dirs = sandbox_tenant(on_sandbox)
    dirs.add_entra_user(f"grace.hopper@{dirs.tenant.primary_domain}", "Grace", "Hopper")
    Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Alan",
        last_name="Turing",
        display_name="Alan Turing",
        username=f"alan.turing@{dirs.tenant.primary_domain}",
        email=f"alan.turing@{dirs.tenant.primary_domain}",
        employee_id="E900",
        status=Identity.Status.ACTIVE,
    )
    return dirs


def mixed_rows(dirs) -> tuple[list[list[str]], dict[int, str]]:
    """(rows, line -> the message its preview shows); lines count the header as 1."""
    domain = dirs.tenant.primary_domain
    soon = (clock.tenant_today(dirs.tenant) + timedelta(days=7)).isoformat()
    row = ["", "", "Sales", "", "", "", "", "", "", ""]

    def r(**cells):
        values = dict(zip(ONBOARD_HEADER, row, strict=True)) | cells
        return [values[name] for name in ONBOARD_HEADER]

    rows = [
        r(first_name="Ada", last_name="Lovelace", start_date=soon, job_title="Analyst",
          office="London", usage_location="gb", employee_id="E100"),
        r(first_name="Charles", last_name="Babbage", role="Sales; support", employee_id="E101"),
        r(first_name="Grace", last_name="Hopper"),
        r(first_name="Bob", last_name="Typo", role="Salse"),
        r(first_name="", last_name="Nofirst"),
        r(first_name="Date", last_name="Format", start_date="01/12/2026"),
        r(first_name="Date", last_name="Past", start_date="2020-01-01"),
        r(first_name="Date", last_name="Impossible", start_date="2026-02-30"),
        r(first_name="Dup", last_name="File", username=f"ada.lovelace@{domain}"),
        r(first_name="Dir", last_name="Taken", username=f"grace.hopper@{domain}"),
        r(first_name="Portal", last_name="Taken", username=f"alan.turing@{domain}"),
        r(first_name="Wrong", last_name="Domain", username="wrong@elsewhere.example"),
        r(first_name="Emp", last_name="Twice", employee_id="E100"),
        r(first_name="Emp", last_name="Portal", employee_id="E900"),
        r(first_name="Loc", last_name="Bad", usage_location="UK"),
        r(first_name="=cmd|' /C calc'!A0", last_name="Formula"),
        r(first_name="Huge", last_name="Cell", department="D" * 1000),
        r(first_name="No", last_name="Role", role=""),
    ]  # fmt: skip
    expected = {
        5: "Unknown role “Salse”. This tenant's roles: Sales, Support.",
        6: "first_name is missing.",
        7: "start_date “01/12/2026” is not a date: use YYYY-MM-DD",
        8: "start_date 2020-01-01 is more than 30 days in the past.",
        9: "start_date “2026-02-30” is not a day of the calendar.",
        10: f"Lines 2 and 10 both have username ada.lovelace@{domain}",
        11: f"username grace.hopper@{domain} exists in Microsoft Entra ID already.",
        12: f"username alan.turing@{domain} belongs to Alan Turing in this portal.",
        13: "elsewhere.example is not a domain of this tenant",
        14: "Lines 2 and 14 both have employee_id E100",
        15: "employee_id E900 belongs to Alan Turing in this portal already.",
        16: "usage_location UK is not an ISO 3166 country code: use GB.",
        17: "first_name starts with “=”, as a spreadsheet formula does.",
        18: "department is 1,000 characters long; the most is 64.",
        19: "role is missing.",
    }
    return rows, expected


def test_preview_shows_every_error_and_queues_nothing(client, dirs):
    rows, expected = mixed_rows(dirs)
    client.force_login(dirs.technician)
    jobs_before = Job.objects.count()
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))

    assert (batch.status, batch.rows_total, batch.rows_valid) == ("validated", 18, 3)
    assert Job.objects.count() == jobs_before
    assert not Identity.objects.filter(tenant=dirs.tenant, first_name="Ada").exists()
    assert AuditEvent.objects.filter(action="batch.upload").count() == 1

    page = client.get(reverse("bulk_batch", kwargs={"tenant": dirs.tenant.slug,
                                                    "batch_id": batch.pk}))  # fmt: skip
    body = page.content.decode()
    assert "Queue 3 valid rows" in body
    # a valid row's badge is green like the count of valid rows above it
    assert body.count('<span class="badge ok">Valid</span>') == 3
    for line, message in expected.items():
        row = BatchRow.objects.get(batch=batch, line=line)
        assert any(message in error for error in row.errors), (line, row.errors)
        assert f'id="line-{line}" class="invalid"' in body
        assert escape(message) in body
    domain = dirs.tenant.primary_domain
    grace = BatchRow.objects.get(batch=batch, line=4)
    assert grace.errors == [] and grace.data["username"] == f"grace.hopper2@{domain}"
    note = f"grace.hopper@{domain} is taken in Microsoft Entra ID: this row gets grace.hopper2@"
    assert note in body
    huge = BatchRow.objects.get(batch=batch, line=18)
    assert len(huge.data["input"]["department"]) == 65  # stored cut short
    # The Start column read "2026-12-14" beside pages that say "14 Dec 2026"; a cell that is
    # no date stays as the file has it, for its error to point at.
    soon = clock.tenant_today(dirs.tenant) + timedelta(days=7)
    starts = re.findall(r'<span class="cell-label">Start </span>([^<]*)</td>', body)
    assert f"{soon.day} {soon:%b %Y}" in starts and soon.isoformat() not in starts
    assert "01/12/2026" in starts


def test_confirm_queues_only_the_valid_rows(client, dirs):
    rows, _ = mixed_rows(dirs)
    client.force_login(dirs.technician)
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    start = reverse("bulk_start", kwargs={"tenant": dirs.tenant.slug, "batch_id": batch.pk})

    response = client.post(start)
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    jobs = Job.objects.filter(batch=batch, kind=Job.Kind.JOIN)
    domain = dirs.tenant.primary_domain
    assert sorted(jobs.values_list("identity__username", flat=True)) == [
        f"ada.lovelace@{domain}", f"charles.babbage@{domain}", f"grace.hopper2@{domain}",
    ]  # fmt: skip
    ada = Identity.objects.get(tenant=dirs.tenant, username=f"ada.lovelace@{domain}")
    assert ada.employee_id == "E100" and ada.start_date > clock.tenant_today(dirs.tenant)
    assert ada.attributes == {"job_title": "Analyst", "office": "London", "usage_location": "GB"}
    charles = Identity.objects.get(tenant=dirs.tenant, employee_id="E101")
    assert [t.name for t in charles.role_templates.order_by("name")] == ["Sales", "Support"]
    assert all(r.job_id for r in batch.rows.filter(errors=[]))
    assert not batch.rows.exclude(errors=[]).filter(job__isnull=False).exists()
    assert AuditEvent.objects.filter(action="batch.start").count() == 1

    # a second confirm (a double click, a replayed POST) queues nothing more
    client.post(start)
    assert Job.objects.filter(batch=batch).count() == 3


def test_discard_queues_nothing(client, dirs):
    client.force_login(dirs.technician)
    text = csv_text(ONBOARD_HEADER, [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]])
    batch = batch_of(upload(client, dirs.tenant, text))
    kwargs = {"tenant": dirs.tenant.slug, "batch_id": batch.pk}
    assert client.post(reverse("bulk_discard", kwargs=kwargs)).status_code == 302
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CANCELLED
    assert client.post(reverse("bulk_start", kwargs=kwargs)).status_code == 302
    assert not Job.objects.filter(batch=batch).exists()


def test_template_imports_cleanly(client, dirs):
    client.force_login(dirs.technician)
    url = reverse("bulk_template", kwargs={"tenant": dirs.tenant.slug})
    template = client.get(url + "?kind=onboard")
    assert template["Content-Type"] == "text/csv; charset=utf-8; header=present"
    text = template.content.decode("utf-8-sig")
    assert "Roles of this tenant: Sales ; Support" in text
    # RFC 4180 §2.4: every record has the header's number of fields, comment lines too
    # (padded with empty fields), in both templates
    offboard_text = client.get(url + "?kind=offboard").content.decode("utf-8-sig")
    for each in (text, offboard_text):
        records = list(csv.reader(io.StringIO(each, newline="")))
        assert {len(record) for record in records} == {len(records[0])}
    batch = batch_of(upload(client, dirs.tenant, template.content, name="template.csv"))
    assert (batch.rows_total, batch.rows_valid) == (1, 1)
    assert batch.rows.get().data["username"] == f"ada.lovelace@{dirs.tenant.primary_domain}"
    # valid, but a file uploaded with the example still in it says so beside that row
    page = client.get(
        reverse("bulk_batch", kwargs={"tenant": dirs.tenant.slug, "batch_id": batch.pk})
    )
    assert "! This is the template's example row: delete it unless you mean to onboard Ada" in (
        html.unescape(page.content.decode())
    )

    offboard = client.get(url + "?kind=offboard").content
    response = upload(client, dirs.tenant, offboard, kind="offboard", **OFFBOARD_OPTIONS)
    assert "The file has its header but no rows" in response.content.decode()
    # the example's leave_at is one the file would take (today or later), not a past date
    example = re.search(r"(\d{4}-\d{2}-\d{2}) 17:30 \(leave_at\)", offboard.decode("utf-8-sig"))
    assert example and date.fromisoformat(example.group(1)) > clock.tenant_today(dirs.tenant)


def test_a_tenant_with_a_scim_app_previews_its_rows(client, on_sandbox):
    """A SCIM app's connector reads as it is asked (no read-ahead): the file's preview
    looks its rows up there one by one, beside the directory's read-ahead."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkscim")
    slack = connect(dirs.tenant, make_app(on_sandbox, "slack"))
    dirs.template.scim_apps = [{"connection": slack.pk, "groups": []}]  # Sales gives Slack
    dirs.template.save()
    client.force_login(dirs.technician)
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert (batch.status, batch.rows_total, batch.rows_valid) == ("validated", 1, 1)


def test_a_name_okta_would_refuse_is_refused_on_its_line(client, on_sandbox):
    """Okta takes names of at most 50 characters: a longer one would be created in Entra and
    refused by Okta, so the row is refused before anything is queued."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkoktalong", kinds=("entra", "okta"))
    client.force_login(dirs.technician)
    rows = [
        ["Ada", "L" * 51, "Sales", "", "", "", "", "", "", ""],
        ["Grace", "H" * 50, "Sales", "", "", "", "", "", "", ""],
    ]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert (batch.rows_total, batch.rows_valid) == (2, 1)
    refused = BatchRow.objects.get(batch=batch, line=2)
    assert refused.errors == ["last_name: Okta takes at most 50 characters here (51 given)."]


def test_a_username_entra_would_refuse_is_refused_on_its_line(client, on_sandbox):
    """The naming rule's username for long names can exceed Entra's 64 characters before the
    @: the row is refused, not the job at the directory."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkupnlong")
    client.force_login(dirs.technician)
    rows = [
        ["A" * 40, "L" * 30, "Sales", "", "", "", "", "", "", ""],
        ["A" * 40, "L" * 23, "Sales", "", "", "", "", "", "", ""],
    ]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert (batch.rows_total, batch.rows_valid) == (2, 1)
    [error] = BatchRow.objects.get(batch=batch, line=2).errors
    assert error.endswith(": Entra takes at most 64 characters before the @ (71 given)."), error


def test_a_big_file_looks_its_rows_up_in_a_scim_app_from_one_listing(client, on_sandbox):
    """40 rows for a tenant whose template gives a SCIM app: the preview reads the app's
    users once, not once a row, and shows what the single form shows: a username the app
    holds for someone else, in other letters' case, is a conflict."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkscim40")
    app = make_app(on_sandbox, "slack", groups=["Sales"])
    slack = connect(dirs.tenant, app)
    dirs.template.scim_apps = [{"connection": slack.pk, "groups": ["Sales"]}]
    dirs.template.save()
    rows = [[f"Person{i:02}", f"Tester{i:02}", "Sales", "", "", "", "", "", "", ""]
            for i in range(40)]  # fmt: skip
    client.force_login(dirs.technician)
    app.control("DELETE", "/stats")
    with CaptureQueriesContext(connection) as queries:
        batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert (batch.rows_total, batch.rows_valid) == (40, 40)
    assert get_users(app) == 1  # the dry run's listing (usernames are the directories')
    mappings = [q for q in queries if AttributeMapping._meta.db_table in q["sql"]]
    assert len(mappings) == 2  # each connection's attribute mappings, once for the file

    # The app's own admin gives one row's username to someone else before a choice re-runs
    # the file's dry run.
    domain = dirs.tenant.primary_domain
    app.add_user(f"PERSON07.TESTER07@{domain.upper()}", "Someone", "Else")
    app.control("DELETE", "/stats")
    service.choose(batch, {}, actor=dirs.technician)
    assert get_users(app) == 1
    problems = {row.line: row.data["problems"] for row in batch.rows.all()}
    conflict = problems.pop(9)
    assert [p["kind"] for p in conflict] == ["conflict"]
    assert conflict[0]["message"].startswith(
        f"{slack.label}: person07.tester07@{domain} already exists in this directory for someone "
        "else"
    )
    assert not any(problems.values())


def get_users(app) -> int:
    return app.control("GET", "/stats").json()["calls"].get("GET /Users", 0)


def test_a_tenant_with_okta_beside_entra_previews_its_rows(client, on_sandbox):
    dirs = sandbox_tenant(on_sandbox, prefix="bulkokta", kinds=("entra", "okta"))
    client.force_login(dirs.technician)
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert (batch.status, batch.rows_total, batch.rows_valid) == ("validated", 1, 1)


def test_a_username_only_a_scim_app_holds_keeps_its_name_and_the_dry_run_shows_the_clash(
    client, on_sandbox
):
    """As in the single form: the directories name people; the app's account of that name is
    a clash the dry run shows (someone else's), not a reason for another username."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkscimname")
    app = make_app(on_sandbox, "slack")
    slack = connect(dirs.tenant, app)
    dirs.template.scim_apps = [{"connection": slack.pk, "groups": []}]
    dirs.template.save()
    app.add_user(f"ada.lovelace@{dirs.tenant.primary_domain}", "Someone", "Else")
    client.force_login(dirs.technician)
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    [row] = batch.rows.all()
    assert row.data["username"] == f"ada.lovelace@{dirs.tenant.primary_domain}"
    assert [p["kind"] for p in row.data["problems"]] == ["conflict"]
    assert row.data["problems"][0]["message"].startswith(f"{slack.label}: ada.lovelace@")


def test_a_second_joiner_of_a_longest_name_gets_a_numbered_username_within_entras_bound(
    client, on_sandbox
):
    """Two joiners of one name whose username is Entra's longest: the second's number takes
    the place of the name's last character, not a 65th."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkupnsuffix")
    client.force_login(dirs.technician)
    row = ["A" * 40, "L" * 23, "Sales", "", "", "", "", "", "", ""]
    rows = [[*row, ""], [*row, "yes"]]
    header = [*ONBOARD_HEADER, "different_person"]
    batch = batch_of(upload(client, dirs.tenant, csv_text(header, rows)))
    assert (batch.rows_total, batch.rows_valid) == (2, 2), [r.errors for r in batch.rows.all()]
    first, second = (r.data["username"] for r in batch.rows.order_by("line"))
    assert first.split("@")[0] == "a" * 40 + "." + "l" * 23
    assert second.split("@")[0] == "a" * 40 + "." + "l" * 22 + "2"


def test_a_kept_group_no_directory_has_is_an_error_on_its_line(client, dirs):
    """keep_groups "Staf" (a typo of Staff) would keep nothing and Staff would go: the row
    is refused with the group named, as an unknown column is; a group the directory has,
    in any case, passes."""
    client.force_login(dirs.technician)
    username = f"alan.turing@{dirs.tenant.primary_domain}"
    header = ["username", "keep_groups"]
    for kept, ok in (("staff;VPN Users", True), ("Staf", False)):
        text = csv_text(header, [[username, kept]])
        batch = batch_of(upload(client, dirs.tenant, text, kind="offboard", **OFFBOARD_OPTIONS))
        row = batch.rows.get()
        assert (batch.rows_valid == 1) is ok, row.errors
        if not ok:
            assert row.errors == [
                f"keep_groups “Staf” is no group of {dirs.tenant.name}'s directories: check "
                "its spelling (a group not kept is removed)."
            ]
        batch.status = Batch.Status.CANCELLED
        batch.save(update_fields=["status"])
    # the upload's own list is checked the same way
    text = csv_text(["username"], [[username]])
    response = upload(
        client, dirs.tenant, text, kind="offboard", **(OFFBOARD_OPTIONS | {"keep_groups": "Staf"})
    )
    assert response.status_code == 200 and "“Staf” is no group" in response.content.decode()


def test_a_tenant_without_okta_is_not_asked_how_to_offboard_in_okta(client, dirs, on_sandbox):
    """The upload's options asked "Okta *: Suspend or Deactivate" of an Entra-only tenant,
    whose own offboarding form (one person) asks nothing of Okta; the preset's choice stays."""
    client.force_login(dirs.technician)
    url = reverse("bulk_upload", kwargs={"tenant": dirs.tenant.slug}) + "?kind=offboard"
    page = client.get(url).content.decode()
    assert 'name="okta_mode"' not in page
    # people leave a tenant: the subtitle said "into Contoso", the onboarding's word
    assert f"of <strong>{dirs.tenant.name}</strong>" in page and "into <strong>" not in page
    text = csv_text(["username"], [[f"alan.turing@{dirs.tenant.primary_domain}"]])
    posted = {k: v for k, v in OFFBOARD_OPTIONS.items() if k != "okta_mode"}
    batch = batch_of(upload(client, dirs.tenant, text, kind="offboard", **posted))
    assert batch.options["offboard"]["okta_mode"] == "suspend" and batch.rows_valid == 1
    with_okta = sandbox_tenant(on_sandbox, prefix="bulkokta", kinds=("entra", "okta"))
    client.force_login(with_okta.technician)
    url = reverse("bulk_upload", kwargs={"tenant": with_okta.tenant.slug}) + "?kind=offboard"
    assert 'name="okta_mode"' in client.get(url).content.decode()


def test_a_tenant_without_okta_is_not_shown_the_okta_mode_column(client, dirs, on_sandbox):
    """The offboarding page's column table and its template listed okta_mode (and the
    template's example said "suspend") for an Entra-only tenant, whose options ask nothing of
    Okta; a tenant with Okta still sees the column."""
    client.force_login(dirs.technician)
    slug = dirs.tenant.slug
    page = client.get(reverse("bulk_upload", kwargs={"tenant": slug}) + "?kind=offboard")
    template = client.get(reverse("bulk_template", kwargs={"tenant": slug}) + "?kind=offboard")
    assert "<code>delete_after_days</code>" in page.content.decode()
    assert "<code>okta_mode</code>" not in page.content.decode()
    header, *comments = template.content.decode().lstrip("\ufeff").splitlines()
    assert next(csv.reader([header])) == [
        "username",
        "employee_id",
        "leave_at",
        "delete_after_days",
        "keep_groups",
    ]
    assert not [line for line in comments if "okta_mode" in line or "suspend" in line]
    with_okta = sandbox_tenant(on_sandbox, prefix="bulkoktacol", kinds=("entra", "okta"))
    client.force_login(with_okta.technician)
    slug = with_okta.tenant.slug
    page = client.get(reverse("bulk_upload", kwargs={"tenant": slug}) + "?kind=offboard")
    template = client.get(reverse("bulk_template", kwargs={"tenant": slug}) + "?kind=offboard")
    assert "<code>okta_mode</code>" in page.content.decode()
    assert "okta_mode" in template.content.decode().lstrip("\ufeff").splitlines()[0]


def test_the_upload_pages_switch_is_named_as_the_buttons_that_lead_there(client, dirs):
    """Bulk imports (and the README) say "Onboard from CSV" and "Offboard from CSV"; the
    upload page's own switch said "Onboard people" and "Offboard people"."""
    client.force_login(dirs.technician)
    listing = client.get(reverse("bulk_list", kwargs={"tenant": dirs.tenant.slug}))
    url = reverse("bulk_upload", kwargs={"tenant": dirs.tenant.slug})
    for kind in ("onboard", "offboard"):
        page = client.get(f"{url}?kind={kind}").content.decode()
        for label in ("Onboard from CSV", "Offboard from CSV"):
            assert f">{label}</a>" in page and f">{label}</a>" in listing.content.decode()
        assert "Onboard people" not in page and "Offboard people" not in page


def test_every_column_of_the_templates_says_what_it_takes():
    """The template's comment lines describe each column (office had none)."""
    from provisioning.bulk.columns import COLUMNS

    assert [c.name for cols in COLUMNS.values() for c in cols if not c.help] == []


def test_a_three_letter_country_is_told_to_use_the_two_letter_code(client, dirs):
    """USA in usage_location was cut at the column's two characters and read "is 3
    characters long; the most is 2": the row now says what the cell should hold."""
    client.force_login(dirs.technician)
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "USA", ""]]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    row = BatchRow.objects.get(batch=batch, line=2)
    assert row.errors == [
        "usage_location USA is a three-letter code: a usage location is the two-letter "
        "ISO 3166 code, such as US (not USA), GB (not GBR) or DE (not DEU)."
    ]


def test_a_valid_row_shows_what_its_job_will_make_in_each_directory(client, on_sandbox):
    """A valid row showed its username and nothing of its plan: the file's reviewer could not
    see what would be created where, which the onboarding form's dry run shows beside it
    (newcomer18's left item)."""
    dirs = sandbox_tenant(on_sandbox, prefix="bulkplan")
    client.force_login(dirs.technician)
    rows = [["Ada", "Lovelace", "Sales", "", "", "", "", "", "", ""]]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    page = client.get(
        reverse("bulk_batch", kwargs={"tenant": dirs.tenant.slug, "batch_id": batch.pk})
    ).content.decode()
    line = re.search(r'<tr id="line-2">(.*?)</tr>', page, re.S).group(1)
    text = html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", line)))
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    assert "Plan: Microsoft Entra ID (5 steps)" in text, text
    for operation in (f"Create user {upn}", "Add to group Sales", "Assign app Salesforce"):
        assert operation in text, text
