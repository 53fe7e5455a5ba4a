"""The client report carries what an auditor asks of each leaver: who asked for it and when a
read of the directories found it done."""

from django.urls import reverse

from tests.reports.history import at, job, person
from tests.reports.test_reports import PERIOD, csv_of

READ_AT = "2026-01-09T15:29:41.123456+00:00"


def a_verified_leave(world):
    gus = person(world, "Gus", "Leaver", "left")
    leave = job(world, gus, "leave", created=at("2026-01-09", 15), hours=0.5)
    leave.requested_by = world.technician
    leave.verification = {"read_at": READ_AT, "desired_version": 2, "directories": {}}
    leave.save(update_fields=["requested_by", "verification"])
    return leave


def test_each_leaver_row_names_who_asked_and_when_it_was_read_back(client, alpha):
    a_verified_leave(alpha)
    client.force_login(alpha.account_manager)
    asker = alpha.technician.get_full_name() or alpha.technician.username

    _, rows = csv_of(client, alpha)
    header = next(r for r in rows if r and r[0] == "Kind")
    leaver = dict(zip(header, next(r for r in rows if r and r[0] == "Leave"), strict=True))
    assert leaver["Asked by"] == asker
    assert leaver["Read back"] == "2026-01-09 15:29"  # the tenant's zone: Europe/London

    url = reverse("client_report", kwargs={"tenant": alpha.tenant.slug})
    page = client.get(url, PERIOD).content.decode()
    table = page[page.index("people-table") :]
    row = table[table.index("Gus Leaver") :]
    row = row[: row.index("</tr>")]
    assert asker in row and "9 Jan 2026 15:29" in row


def test_a_job_nobody_asked_for_is_asked_by_the_system(client, alpha):
    """A job with no requester (the demo's first onboardings, a schedule, the HR feed) reads
    "the system" in the report and its CSV, never the missing person's "None None"."""
    leave = a_verified_leave(alpha)
    leave.requested_by = None
    leave.save(update_fields=["requested_by"])
    client.force_login(alpha.account_manager)

    _, rows = csv_of(client, alpha)
    header = next(r for r in rows if r and r[0] == "Kind")
    leaver = dict(zip(header, next(r for r in rows if r and r[0] == "Leave"), strict=True))
    assert leaver["Asked by"] == ""

    url = reverse("client_report", kwargs={"tenant": alpha.tenant.slug})
    page = client.get(url, PERIOD).content.decode()
    table = page[page.index("people-table") :]
    row = table[table.index("Gus Leaver") :]
    row = row[: row.index("</tr>")]
    assert "None" not in row and "the system" in row


def footnote(page: str) -> str:
    table = page[page.index("people-table") :]
    return table[: table.index("</section>")]


def test_a_dash_under_read_back_is_explained(client, alpha):
    """A job done before the engine read the directories back has no read-back: the report
    said only "–", which a client reads as "not checked" with nothing to say why."""
    leave = a_verified_leave(alpha)
    client.force_login(alpha.account_manager)
    url = reverse("client_report", kwargs={"tenant": alpha.tenant.slug})
    read_back = "– under Read back: the job ended before the portal read the directories back"
    assert read_back not in footnote(client.get(url, PERIOD).content.decode())

    leave.verification = {}
    leave.save(update_fields=["verification"])
    assert read_back in footnote(client.get(url, PERIOD).content.decode())
