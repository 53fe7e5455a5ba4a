"""The per-client report: figures against hand-built history, roles, CSV, period, queries."""

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from reports.forms import ReportPeriodForm, preset_range
from reports.report import build_report, percentile
from tests.reports.conftest import END, START, read_licences
from tests.reports.history import access_request, at, bare_world, job, person

HOUR = 3600.0
PERIOD = {"period": "custom", "start": "2026-01-05", "end": "2026-01-18"}


def report_url(world, **query) -> str:
    return reverse("client_report", kwargs={"tenant": world.tenant.slug})


# -- the figures --------------------------------------------------------------------------


def test_percentile_interpolates_like_percentile_cont():
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile(list(range(1, 11)), 0.9) == pytest.approx(9.1)
    assert percentile([10, 1, 4], 0.5) == 4  # unsorted input


def test_joiners_movers_and_leavers_of_the_period(history):
    report = build_report(history.world.tenant, START, END)
    assert [r.person for r in report.joiners] == ["Ada Joiner", "Ben Joiner", "Cleo Joiner"]
    assert [r.person for r in report.movers] == ["Eli Mover", "Fay Mover"]  # not the enabling
    assert [r.person for r in report.leavers] == ["Gus Leaver", "Hana Leaver"]


def test_time_to_done_median_and_90th_percentile(history):
    report = build_report(history.world.tenant, START, END)
    # Done in 1, 2, 4 (timed from its due time, not its booking), 1, 3, 0.5 and 10 hours.
    assert report.job_times.count == 7
    assert report.job_times.median == pytest.approx(2 * HOUR)
    assert report.job_times.p90 == pytest.approx(6.4 * HOUR)
    scheduled = next(r for r in report.joiners if r.person == "Cleo Joiner")
    assert scheduled.seconds == pytest.approx(4 * HOUR)


def test_access_requests_granted_denied_expired_and_their_times(history):
    report = build_report(history.world.tenant, START, END)
    assert (report.granted, report.denied, report.expired) == (2, 1, 1)
    assert report.requests_received == 4  # the expired one was made before the period
    assert report.request_times.median == pytest.approx(4 * HOUR)
    assert report.request_times.p90 == pytest.approx(5.6 * HOUR)


def test_the_page_counts_the_requests_still_waiting_instead_of_saying_one(history, client):
    """Four received, three decided in the period: the page says how many wait, not "one"."""
    report = build_report(history.world.tenant, START, END)
    assert report.requests_waiting == 1
    world = history.world
    access_request(world, person(world, "Ula", "Waiting"), "pending", created=at("2026-01-17", 9))
    client.force_login(world.account_manager)
    body = client.get(report_url(world), PERIOD).content.decode()
    assert "2 still waiting for a decision are not listed" in body
    assert "one still waiting" not in body


def test_a_request_nobody_decided_says_the_system_as_the_rest_of_the_report(history, client):
    """The expired request's "By" read "system" where the joiners' "Asked by" two tables down
    (and the job and request pages) say "the system"; a rule's decision "rule: …" where the
    request's page says "the rule: …"."""
    world = history.world
    rule = access_request(world, person(world, "Rui", "Ruled"), "granted", created=at("2026-01-12"))
    rule.decided_by_rule, rule.decided_at = "Sales may have VPN Users", at("2026-01-12")
    rule.save()
    client.force_login(world.account_manager)
    body = client.get(report_url(world), PERIOD).content.decode()
    assert '<span class="cell-label">By </span>the system</td>' in body
    assert '<span class="cell-label">By </span>system</td>' not in body
    assert '<span class="cell-label">By </span>the rule: Sales may have VPN Users</td>' in body


STAT = re.compile(r'<div class="n[^"]*"[^>]*>([^<]*)</div><div class="l">([^<]*)</div>')


def test_a_figure_of_one_names_one_thing_not_many(history, client):
    """The failures card read "1 jobs failed or partly failed" and "1 failed operations"
    (seen on the demo's report); every figure names its thing in the number it counts."""
    world = history.world
    client.force_login(world.account_manager)
    body = client.get(report_url(world), PERIOD).content.decode()
    figures = dict((label, n) for n, label in STAT.findall(body))
    assert figures["job failed or partly failed"] == "1"
    assert figures["failed operation"] == "1"
    assert figures["job run again"] == "1"
    assert figures["joiners"] == "3"
    assert not [label for label, n in figures.items() if n == "1" and label.split()[0][-1] == "s"]


def test_failed_and_retried_operations(history):
    report = build_report(history.world.tenant, START, END)
    assert [j.id for j in report.failed_jobs] == [history.failed_job.pk]
    [failure] = report.failed_steps
    assert (failure.job_id, failure.order, failure.target) == (history.failed_job.pk, 2, "SPE_E3")
    assert "No available licences" in failure.error
    assert [j.person for j in report.retried_jobs] == ["Hana Leaver"]


def test_joiners_and_leavers_per_week(history):
    report = build_report(history.world.tenant, START, END)
    bars = [(w.start, w.joiners, w.leavers) for w in report.weeks]
    assert bars == [(date(2026, 1, 5), 2, 1), (date(2026, 1, 12), 1, 1)]


def test_licence_line_walks_back_from_the_reading(history):
    read_licences(history.world, consumed=10)
    report = build_report(history.world.tenant, START, END)
    [line] = report.licences
    values = dict(line.points)
    # +Ada 5 Jan, +Ben 7 Jan, -Gus 9 Jan, +Cleo 14 Jan, -Hana 15 Jan; 10 in use on 20 Jan.
    assert line.at_start == 9
    assert [values[date(2026, 1, d)] for d in (5, 6, 7, 9, 14, 15, 18)] == [
        10,
        10,
        11,
        10,
        11,
        10,
        10,
    ]
    assert (line.total, line.used_now, line.free_now, line.change) == (25, 10, 15, 1)
    assert report.licences_read_at == at("2026-01-20", 9)


def test_an_over_used_licence_says_none_free_and_how_many_over(history, client):
    """The seat table's Free read "-1" for a licence with one seat more in use than bought;
    the dashboard says "none free, 1 over" for the same SKU."""
    read_licences(history.world, consumed=26, total=25)
    client.force_login(history.world.account_manager)
    body = client.get(report_url(history.world), PERIOD).content.decode()
    assert '<span class="cell-label">Free </span>none free, 1 over</td>' in body
    assert '<span class="cell-label">Free </span>-1' not in body
    read_licences(history.world, consumed=10, total=25, when=at("2026-01-20", 10))
    body = client.get(report_url(history.world), PERIOD).content.decode()
    assert '<span class="cell-label">Free </span>15</td>' in body


def test_licence_line_without_a_reading_is_the_net_change(history):
    [line] = build_report(history.world.tenant, START, END).licences
    assert line.total is None and line.at_start == 0
    assert line.points[-1] == (END, 1)


def test_other_tenants_and_other_periods_stay_out(history, bravo):
    report = build_report(history.world.tenant, date(2026, 2, 1), date(2026, 2, 28))
    assert not (report.joiners or report.leavers or report.requests or report.failed_steps)
    assert build_report(bravo.tenant, START, END).joiners[0].person == bravo.identity.display_name


# -- the period -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "today", "expected"),
    [
        ("this_month", date(2026, 5, 20), (date(2026, 5, 1), date(2026, 5, 20))),
        ("last_month", date(2026, 3, 15), (date(2026, 2, 1), date(2026, 2, 28))),
        ("last_month", date(2026, 1, 3), (date(2025, 12, 1), date(2025, 12, 31))),
        ("last_quarter", date(2026, 5, 20), (date(2026, 1, 1), date(2026, 3, 31))),
        ("last_quarter", date(2026, 2, 1), (date(2025, 10, 1), date(2025, 12, 31))),
        ("last_30_days", date(2026, 5, 30), (date(2026, 5, 1), date(2026, 5, 30))),
    ],
)
def test_preset_periods(period, today, expected):
    assert preset_range(period, today) == expected
    assert ReportPeriodForm({"period": period}, today=today).chosen()[1:] == expected


def test_a_preset_wins_over_dates_left_in_the_form():
    form = ReportPeriodForm(
        {"period": "last_month", "start": "2020-01-01", "end": "2020-01-02"}, today=date(2026, 3, 9)
    )
    assert form.chosen() == ("last_month", date(2026, 2, 1), date(2026, 2, 28))


def test_custom_dates_alone_make_a_custom_period():
    form = ReportPeriodForm({"start": "2026-01-05", "end": "2026-01-18"}, today=date(2026, 3, 9))
    assert form.chosen() == ("custom", START, END)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"period": "custom", "start": "2026-01-18", "end": "2026-01-05"}, "comes before"),
        ({"period": "custom", "start": "2026-01-05"}, "last day"),
        ({"period": "custom", "start": "2020-01-01", "end": "2026-01-05"}, "at most 400"),
        ({"period": "custom", "start": "2026-13-45", "end": "2026-01-18"}, "valid date"),
    ],
)
def test_bad_periods_are_named_and_the_default_is_shown(client, history, data, message):
    client.force_login(history.world.account_manager)
    response = client.get(report_url(history.world), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.context["period"] == "last_30_days"


# -- the page, for each role ---------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.ACCOUNT_MANAGER, Role.TECHNICIAN, Role.CLIENT_ADMIN, Role.MSP_ADMIN]
)
def test_each_role_of_the_tenant_reads_the_report(client, history, msp_admin, role):
    reader = msp_admin if role == Role.MSP_ADMIN else history.world.people[role]
    client.force_login(reader)
    response = client.get(report_url(history.world), PERIOD)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Provisioning report: Alpha Ltd" in body
    assert '<div class="n" id="fig-joiners">3</div>' in body
    assert '<div class="n" id="fig-leavers">2</div>' in body
    assert '<div class="n" id="fig-median">2 h</div>' in body
    assert '<div class="n" id="fig-p90">6 h 24 min</div>' in body
    assert "5 Jan 2026 – 18 Jan 2026" in body
    assert "Bluewater IT" in body or "MSP" in body
    assert body.count('<rect class="bar"') == 4  # 2 weeks x joiners, leavers
    # received and decided are counted apart: the expired one was made before the period
    assert "Received counts the requests made in the period; below, the 4 decided" in body
    assert "Bravo" not in body and "Pat Member-bravo" not in body


def test_people_of_another_tenant_get_404(client, history, bravo):
    for reader in bravo.people.values():
        client.force_login(reader)
        assert client.get(report_url(history.world), PERIOD).status_code == 404
        url = reverse("client_report_csv", kwargs={"tenant": history.world.tenant.slug})
        assert client.get(url, PERIOD).status_code == 404


def test_the_report_index_lists_only_ones_own_tenants(client, history, bravo):
    client.force_login(history.world.account_manager)
    body = client.get(reverse("report_index")).content.decode()
    assert "Alpha Ltd" in body and "Bravo GmbH" not in body


def test_htmx_period_change_returns_the_report_alone(client, history):
    client.force_login(history.world.account_manager)
    response = client.get(report_url(history.world), PERIOD, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="report-area">')
    assert "<html" not in body and 'data-start="2026-01-05"' in body


# -- CSV -----------------------------------------------------------------------------------


def csv_of(client, world) -> tuple[object, list[list[str]]]:
    url = reverse("client_report_csv", kwargs={"tenant": world.tenant.slug})
    response = client.get(url, PERIOD)
    text = response.content.decode("utf-8")
    return response, list(csv.reader(io.StringIO(text)))


def trimmed(rows: list[list[str]]) -> list[list[str]]:
    """Each record without the empty fields that pad it to the file's width."""
    out = []
    for row in rows:
        while row and row[-1] == "":
            row = row[:-1]
        out.append(row)
    return out


def test_csv_export_has_the_figures_and_rows_excel_reads(client, history):
    read_licences(history.world)
    client.force_login(history.world.account_manager)
    response, records = csv_of(client, history.world)
    # RFC 4180 §2.4: each record has the same number of fields (the sections' shorter rows,
    # titles and blank lines between them are padded with empty fields)
    assert {len(record) for record in records} == {8}
    rows = trimmed(records)
    assert response["Content-Type"].startswith("text/csv")
    assert (
        'filename="alpha-provisioning-2026-01-05-to-2026-01-18.csv"'
        in response["Content-Disposition"]
    )
    assert response.content.startswith("\ufeff".encode())
    assert response.content.count(b"\r\n") >= len(rows)
    figures = {r[0]: r[1] for r in rows if len(r) == 2}
    assert figures["Joiners"] == "3" and figures["Movers"] == "2" and figures["Leavers"] == "2"
    assert figures["Access requests granted"] == "2"
    assert figures["Joiners, movers and leavers: hours to done, median"] == "2.00"
    assert figures["Joiners, movers and leavers: hours to done, 90th percentile"] == "6.40"
    assert figures["Access requests: hours from request to granted, median"] == "4.00"
    people = [r for r in rows if r and r[0] in ("Join", "Change", "Leave")]
    assert [r[1] for r in people][:2] == ["Ada Joiner", "Eli Mover"]
    assert ["SPE_E3", "2026-01-18", "10"] in rows
    assert any(r[:2] == ["Fay Mover", "VPN Users"] and r[2].startswith("Expired") for r in rows)
    assert not any("Bravo" in cell for r in rows for cell in r)
    event = AuditEvent.objects.filter(action="report.export").get()
    assert event.tenant_id == history.world.tenant.pk


def test_csv_neutralises_formula_cells(client, alpha):
    evil = person(alpha, '=HYPERLINK("http://x")', "@SUM(A1)")
    evil.display_name = '=HYPERLINK("http://evil.example","x")'
    evil.save()
    job(alpha, evil, "join", created=at("2026-01-06", 9), hours=1)
    client.force_login(alpha.account_manager)
    _response, records = csv_of(client, alpha)
    cells = [c for r in trimmed(records) for c in r]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


# -- queries -------------------------------------------------------------------------------


def add_tenants(count: int) -> None:
    for i in range(count):
        world = bare_world(f"extra{i}", f"Extra {i}")
        job(world, world.identity, "join", created=at("2026-01-06", 9), hours=1)


@pytest.mark.parametrize("extra", [0, 18])
@pytest.mark.parametrize(
    "period", [PERIOD, {"period": "custom", "start": "2025-10-01", "end": "2026-03-31"}]
)
def test_report_queries_do_not_grow_with_tenants_or_weeks(
    client, history, django_assert_max_num_queries, django_assert_num_queries, extra, period
):
    add_tenants(extra)  # 2 tenants, then 20
    read_licences(history.world)
    client.force_login(history.world.account_manager)
    with django_assert_max_num_queries(14):
        assert client.get(report_url(history.world), period).status_code == 200
    # jobs, steps, requests, connections, licence steps; licence waste: the policy, the
    # connections with their cursors, the seats of idle accounts, the SKUs
    with django_assert_num_queries(9):
        build_report(history.world.tenant, START, END)


def test_a_request_revoked_before_its_grant_ended_is_not_counted_as_granted(history):
    """Revoked while approved (its grant job still running when the revoke came): the
    access was never given, so the report neither counts it granted nor times it."""
    world = history.world
    before = build_report(world.tenant, START, END)
    revoke_before_and_after_the_grant(world)

    report = build_report(world.tenant, START, END)

    assert report.granted == before.granted + 1  # Vi Given only
    assert report.request_times.count == before.request_times.count + 1
    [never] = [r for r in report.requests if r.person == "Vi Never"]
    assert never.seconds is None


def revoke_before_and_after_the_grant(world) -> None:
    """Vi Never: revoked an hour after the request, before its grant job ended (3 h); Vi
    Given: revoked after it."""
    created = at("2026-01-13", 9)
    for name, revoked_after in (("Never", 1), ("Given", 5)):
        who = person(world, "Vi", name)
        request = access_request(
            world, who, "revoked", created=created, decided_hours=0.5, granted_hours=3
        )
        request.end_job = job(
            world, who, "revoke", created=created + timedelta(hours=revoked_after), hours=1
        )
        request.save(update_fields=["end_job"])


def test_a_grant_taken_back_reads_as_granted_then_revoked(history):
    """A request granted and later taken back reads so in the Outcome column (and the CSV):
    "Revoked" beside the approver's name and the approval's day read as if the approver had
    revoked it that day, under a "granted" figure that counts it. One revoked before it was
    given stays "Revoked"."""
    revoke_before_and_after_the_grant(history.world)

    report = build_report(history.world.tenant, START, END)

    rows = {r.person: r.status for r in report.requests}
    assert rows["Vi Given"] == "Granted, since revoked"
    assert rows["Vi Never"] == "Revoked"
