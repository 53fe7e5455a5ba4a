"""The audit trail pages: who sees which events, the filters, keyset pages, the CSV export and
"Verify integrity". The query-count and EXPLAIN tests are in test_audit_scale.py."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.models import Role
from reports import audit_queries
from tests.factories import make_person

from .audit_support import (
    audit_url,
    csv_rows,
    event_ids,
    export_url,
    history,
    newer_link,
    newest_first_ids,
    older_link,
    tampering,
    visible,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(alpha, bravo, msp_admin):
    """A few events of each tenant and one of the MSP-wide chain, by name."""
    events = {
        "a_update": record(
            "tenant.update",
            actor=msp_admin,
            tenant=alpha.tenant,
            target=alpha.tenant,
            before={"name": "Alpha", "tags": ["gold", "eu"], "retention_days": 400},
            after={"name": "Alpha Ltd", "tags": ["gold", "us"], "retention_days": 400},
        ),
        "a_onboard": record(
            "identity.onboard",
            actor=alpha.technician,
            tenant=alpha.tenant,
            target=alpha.identity,
            after={"username": alpha.identity.username},
            job_id=alpha.job.pk,
        ),
        "a_fail": record(
            "directory.create_user",
            actor="system",
            tenant=alpha.tenant,
            target=("provisioning.identity", alpha.identity.pk, "Pat Member-alpha"),
            result="failure",
            job_id=alpha.job.pk,
        ),
        "a_denied": record(
            "access_request.decide",
            actor=alpha.client_admin,
            tenant=alpha.tenant,
            target=("provisioning.accessrequest", 7, "VPN for Quinn Zephyr"),
            result="denied",
        ),
        "b_onboard": record(
            "identity.onboard",
            actor=bravo.technician,
            tenant=bravo.tenant,
            target=bravo.identity,
            job_id=bravo.job.pk,
        ),
        "b_group": record(
            "directory.add_group",
            actor="system",
            tenant=bravo.tenant,
            target=("provisioning.identity", bravo.identity.pk, "Pat Member-bravo"),
        ),
        "global": record("staff.create", actor=msp_admin, target=("auth.user", 99, "Neo Staffer")),
    }
    return {name: event.pk for name, event in events.items()}


def ids(trail, *names) -> set[int]:
    return {trail[name] for name in names}


ALPHA = ("a_update", "a_onboard", "a_fail", "a_denied")
BRAVO = ("b_onboard", "b_group")


# -- who sees what ------------------------------------------------------------------------


def test_msp_admin_sees_every_tenant_and_the_msp_wide_chain(client, trail, msp_admin):
    client.force_login(msp_admin)
    assert visible(client) == ids(trail, *ALPHA, *BRAVO, "global")
    assert visible(client, tenant=audit_queries.GLOBAL) == ids(trail, "global")
    assert visible(client, tenant="alpha") == ids(trail, *ALPHA)


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_tenant_people_see_only_their_tenants_events(client, trail, alpha, bravo, role):
    client.force_login(alpha.people[role])
    response = client.get(audit_url())
    assert set(event_ids(response)) == ids(trail, *ALPHA)
    body = response.content.decode()
    assert "Pat Member-bravo" not in body and bravo.tenant.name not in body
    assert "Neo Staffer" not in body, "the MSP-wide chain is for MSP admins"
    assert visible(client, tenant="alpha") == ids(trail, *ALPHA)


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
@pytest.mark.parametrize("tenant", ["alpha", audit_queries.GLOBAL, "global", "no-such-tenant"])
def test_a_tenant_one_may_not_see_is_404_on_the_page_and_the_export(
    client, trail, bravo, role, tenant
):
    client.force_login(bravo.people[role])
    assert client.get(audit_url(tenant=tenant)).status_code == 404
    assert client.get(export_url(tenant=tenant)).status_code == 404
    # Even when another filter is wrong: the 404 does not wait for a valid form.
    assert client.get(audit_url(tenant=tenant, q="ab")).status_code == 404


def test_technician_of_every_tenant_sees_all_tenants_but_not_the_msp_wide_chain(client, trail):
    everyone = make_person("tech-all", Role.TECHNICIAN, all_tenants=True)
    client.force_login(everyone)
    assert visible(client) == ids(trail, *ALPHA, *BRAVO)
    assert client.get(audit_url(tenant=audit_queries.GLOBAL)).status_code == 404


def test_account_manager_of_two_tenants_sees_both(client, trail, alpha, bravo):
    both = make_person("am-both", Role.ACCOUNT_MANAGER, [alpha.tenant, bravo.tenant])
    client.force_login(both)
    assert visible(client) == ids(trail, *ALPHA, *BRAVO)
    assert visible(client, tenant="bravo") == ids(trail, *BRAVO)


def test_person_without_a_role_is_refused_and_anonymous_sent_to_login(client, trail):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_user("nobody"))
    assert client.get(audit_url()).status_code == 403
    assert client.get(export_url()).status_code == 403
    client.logout()
    response = client.get(audit_url())
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_tenant_filter_lists_only_the_tenants_one_may_see(client, trail, alpha, bravo):
    client.force_login(alpha.technician)  # a client's people have no tenant choice to make
    body = client.get(audit_url()).content.decode()
    assert 'value="alpha"' in body and 'value="bravo"' not in body
    assert f'value="{audit_queries.GLOBAL}"' not in body and "MSP-wide" not in body


# -- filters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "tech-alpha"}, ("a_onboard",)),
        ({"actor": "system"}, ("a_fail", "b_group")),
        ({"action": "identity.onboard"}, ("a_onboard", "b_onboard")),
        ({"action": "directory."}, ("a_fail", "b_group")),
        ({"action": "directory"}, ("a_fail", "b_group")),
        ({"action": "directory.*"}, ("a_fail", "b_group")),
        ({"action": "Directory.Create_User"}, ("a_fail",)),
        ({"result": "failure"}, ("a_fail",)),
        ({"result": "denied"}, ("a_denied",)),
        ({"q": "member-B"}, ("b_onboard", "b_group")),
        ({"q": "QUINN zep"}, ("a_denied",)),
        ({"tenant": "bravo", "action": "directory."}, ("b_group",)),
        ({"tenant": "alpha", "result": "success"}, ("a_update", "a_onboard")),
    ],
)
def test_each_filter_narrows(client, trail, msp_admin, params, expected):
    client.force_login(msp_admin)
    assert visible(client, **params) == ids(trail, *expected)


def test_target_and_job_filters(client, trail, alpha, msp_admin):
    client.force_login(msp_admin)
    target = {"target_type": "provisioning.identity", "target_id": alpha.identity.pk}
    assert visible(client, **target) == ids(trail, "a_onboard", "a_fail")
    assert visible(client, job=alpha.job.pk) == ids(trail, "a_onboard", "a_fail")


def test_date_range_is_whole_days_in_the_portal_time_zone(client, alpha, msp_admin):
    day = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    events = history(alpha.tenant, 72, start=day - dt.timedelta(days=1), step=dt.timedelta(hours=1))
    client.force_login(msp_admin)
    on_the_10th = visible(client, date_from="2026-03-10", date_to="2026-03-10")
    assert on_the_10th == {e.pk for e in events if e.timestamp.date() == day.date()}
    assert len(on_the_10th) == 24
    from_the_11th = visible(client, date_from="2026-03-11")
    assert from_the_11th == {e.pk for e in events[48:]}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "ab"}, "at least 3 characters"),
        ({"date_from": "2026-03-11", "date_to": "2026-03-10"}, "end date is before"),
        ({"date_from": "yesterday"}, "Enter a valid date"),
        ({"result": "maybe"}, "Select a valid choice"),
    ],
)
def test_bad_filters_say_why_and_are_left_out(client, trail, msp_admin, params, message):
    client.force_login(msp_admin)
    response = client.get(audit_url(**params))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert event_ids(response) == event_ids(client.get(audit_url()))  # the bad one left out
    # The export leaves it out too, as every list's filters do (portal.fields.usable_filters).
    response = client.get(export_url(**params))
    assert response.status_code == 200 and response.streaming
    unfiltered = client.get(export_url())

    def events_of(export) -> list[dict]:  # each export is on the trail, and in the next one
        return [row for row in csv_rows(export) if row["action"] != "audit.export"]

    assert events_of(response) == events_of(unfiltered)


def test_htmx_filter_answers_with_the_results_partial(client, trail, msp_admin):
    client.force_login(msp_admin)
    response = client.get(audit_url(tenant="alpha"), headers={"HX-Request": "true"})
    body = response.content.decode()
    assert "<html" not in body and 'class="card audit"' in body
    assert set(event_ids(response)) == ids(trail, *ALPHA)


def test_tenant_job_and_person_pages_link_their_audit_events(client, trail, alpha):
    client.force_login(alpha.technician)
    audit = reverse("audit_list")
    page = client.get(reverse("tenant_detail", kwargs={"tenant": "alpha"})).content.decode()
    assert f"{audit}?tenant=alpha" in page
    page = client.get(reverse("job_detail", kwargs={"job_id": alpha.job.pk})).content.decode()
    assert f"{audit}?job={alpha.job.pk}" in page
    person = {"tenant": "alpha", "identity_id": alpha.identity.pk}
    page = client.get(reverse("identity_detail", kwargs=person)).content.decode()
    target = f"target_type=provisioning.identity&amp;target_id={alpha.identity.pk}"
    assert f"{audit}?tenant=alpha&amp;{target}" in page
    assert visible(client, job=alpha.job.pk) == ids(trail, "a_onboard", "a_fail")


# -- an event in detail -------------------------------------------------------------------


def test_an_event_shows_its_before_and_after_as_a_diff(client, trail, msp_admin):
    client.force_login(msp_admin)
    body = client.get(audit_url(tenant="alpha", action="tenant.update")).content.decode()
    assert f'<details class="audit-event" id="event-{trail["a_update"]}">' in body
    assert "2 changes" in body  # name and tags changed; retention_days did not
    assert '<tr class="diff-changed">' in body and '<tr class="diff-same">' in body
    assert "Alpha Ltd" in body
    assert '<span class="chip added">+ us</span>' in body
    assert '<span class="chip removed">− eu</span>' in body


def test_an_event_links_to_its_job_and_its_targets_other_events(client, trail, alpha, msp_admin):
    client.force_login(msp_admin)
    body = client.get(audit_url(action="identity.onboard", tenant="alpha")).content.decode()
    assert reverse("job_detail", kwargs={"job_id": alpha.job.pk}) in body
    assert f"?job={alpha.job.pk}" in body
    assert f"target_type=provisioning.identity&amp;target_id={alpha.identity.pk}" in body


def test_an_event_no_person_made_says_the_system_and_for_which_job(client, trail, alpha, msp_admin):
    """The trail's Actor read "System" where the job, request and report pages say "the
    system", and did not say which process acted: a job's steps now say its job."""
    client.force_login(msp_admin)
    body = client.get(audit_url(tenant="alpha", action="directory.create_user")).content.decode()
    # "job #N" never breaks between its two words (a narrow column split it)
    assert f'<span class="cell-label">By </span>the system, job\u00a0#{alpha.job.pk}</span>' in body
    body = client.get(audit_url(tenant="bravo", action="directory.add_group")).content.decode()
    assert '<span class="cell-label">By </span>the system</span>' in body
    assert ">System<" not in body and "</span>System" not in body


# -- keyset pages -------------------------------------------------------------------------


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(audit_queries, "PAGE_SIZE", 10)
    return 10


def walk(client, url: str, follow) -> list[list[int]]:
    """The event ids of each page from `url` on, following the link `follow` finds."""
    pages = []
    while url:
        response = client.get(url)
        pages.append(event_ids(response))
        url = follow(response)
        assert len(pages) < 100, "the walk does not end"
    return pages


def test_walking_older_pages_returns_every_event_once_in_order(
    client, alpha, msp_admin, small_pages
):
    start = dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)
    history(alpha.tenant, 25, start=start)
    # Five events in one microsecond: the id breaks the tie, across a page boundary too.
    history(alpha.tenant, 5, start=start + dt.timedelta(minutes=12), step=dt.timedelta(0))
    history(alpha.tenant, 17, start=start + dt.timedelta(hours=1))
    client.force_login(msp_admin)
    pages = walk(client, audit_url(tenant="alpha"), older_link)
    assert [len(p) for p in pages] == [10, 10, 10, 10, 7]
    assert [pk for page in pages for pk in page] == newest_first_ids(tenant_id=alpha.tenant.pk)


def test_events_appended_while_walking_neither_repeat_nor_shift_rows(
    client, alpha, msp_admin, small_pages
):
    history(alpha.tenant, 35, start=timezone.now() - dt.timedelta(days=1))
    before = newest_first_ids(tenant_id=alpha.tenant.pk)
    client.force_login(msp_admin)
    first = client.get(audit_url(tenant="alpha"))
    seen = event_ids(first)
    for n in range(12):  # newer than everything on the first page
        record("tenant.update", actor=msp_admin, tenant=alpha.tenant, after={"n": n})
    rest = walk(client, older_link(first), older_link)
    seen += [pk for page in rest for pk in page]
    assert seen == before, "every event of the walk's start, once, in order; none of the new"


def test_walking_back_by_newer_links_ends_on_the_first_page_with_new_events(
    client, alpha, msp_admin, small_pages
):
    history(alpha.tenant, 35, start=timezone.now() - dt.timedelta(days=1))
    client.force_login(msp_admin)
    pages = walk(client, audit_url(tenant="alpha"), older_link)
    response = client.get(audit_url(tenant="alpha"))
    for _ in range(3):
        response = client.get(older_link(response))
    assert event_ids(response) == pages[3]
    fresh = record("tenant.update", actor=msp_admin, tenant=alpha.tenant).pk
    # From there "Newer" leads back up the same pages; the top one shows the new event.
    back = walk(client, newer_link(response), newer_link)
    assert back[:-1] == [pages[2], pages[1], pages[0]]
    assert back[-1] == [fresh, *pages[0][:-1]]


def test_first_page_has_no_newer_link_and_last_page_no_older_link(
    client, alpha, msp_admin, small_pages
):
    history(alpha.tenant, 15, start=timezone.now() - dt.timedelta(hours=1))
    client.force_login(msp_admin)
    first = client.get(audit_url(tenant="alpha"))
    assert newer_link(first) is None and older_link(first) is not None
    assert "More…" not in first.content.decode()  # a control that looked like a link, was none
    last = client.get(older_link(first))
    assert older_link(last) is None and "End of the trail" in last.content.decode()
    assert newer_link(last) is not None


def test_the_count_above_the_events_links_the_older_ones(client, alpha, msp_admin, small_pages):
    """The bar above the list says there is more, as a link to it (it used to be grey text
    that read like a link and did nothing); on the last page it says it is the end."""
    history(alpha.tenant, 15, start=timezone.now() - dt.timedelta(hours=1))
    client.force_login(msp_admin)
    first = client.get(audit_url(tenant="alpha"))
    bar = first.content.decode().split('class="audit-bar"')[1].split("</div>")[0]
    more = re.search(r'<a [^>]*href="([^"]*)"[^>]*>older events →</a>', bar)
    assert more and reverse("audit_list") + html.unescape(more.group(1)) == older_link(first)
    last = client.get(older_link(first))
    bar = last.content.decode().split('class="audit-bar"')[1].split("</div>")[0]
    assert "older events" not in bar and "the oldest" in bar


def test_a_broken_page_link_shows_the_newest_events(client, trail, msp_admin):
    client.force_login(msp_admin)
    response = client.get(audit_url(before="not-a-cursor"))
    assert "page link is not valid" in response.content.decode()
    assert set(event_ids(response)) == ids(trail, *ALPHA, *BRAVO, "global")


# -- CSV export ---------------------------------------------------------------------------


def test_export_streams_the_filtered_events_for_excel(client, trail, alpha, msp_admin):
    client.force_login(msp_admin)
    response = client.get(export_url(tenant="alpha", action="directory."))
    assert response.status_code == 200 and response.streaming
    # RFC 4180 §3: a table whose first line names its columns says so (header=present).
    assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert [int(AuditEvent.objects.get(hash=r["hash"]).pk) for r in rows] == [trail["a_fail"]]
    (row,) = rows
    assert row["tenant"] == "Alpha Ltd" and row["action"] == "directory.create_user"
    assert row["result"] == "failure" and row["job_id"] == str(alpha.job.pk)


def test_export_tells_each_action_in_words_for_an_auditor(client, trail, alpha, msp_admin):
    """An auditor reads the file outside the portal: beside the code, each action in the words
    the trail shows ('Account created'), in a column added at the end, so the columns before
    it stay where scripts find them."""
    client.force_login(msp_admin)
    response = client.get(export_url(tenant="alpha", action="directory."))
    (row,) = csv_rows(response)
    header = list(row)
    assert header[-1] == "action_words" and header[4] == "action"
    assert (row["action"], row["action_words"]) == ("directory.create_user", "Account created")


def test_export_of_a_client_admin_holds_only_their_tenant(client, trail, alpha):
    client.force_login(alpha.client_admin)
    rows = csv_rows(client.get(export_url()))
    assert {r["tenant"] for r in rows} == {"Alpha Ltd"}
    assert len(rows) == len(ALPHA)


def test_an_export_of_the_trail_is_on_the_trail_after_it(client, trail, alpha, msp_admin):
    """Who took a copy of the trail (people, addresses, every change) is on it, as each report
    export is: on the chain exported, or the person's own tenants' for all they may read; the
    copy itself holds the trail as it was asked for, not its own record."""
    client.force_login(alpha.client_admin)
    assert len(csv_rows(client.get(export_url()))) == len(ALPHA)
    client.force_login(msp_admin)
    assert len(csv_rows(client.get(export_url(tenant="alpha", action="identity")))) == 1
    assert len(csv_rows(client.get(export_url(tenant="@msp")))) == 1
    exports = AuditEvent.objects.filter(action="audit.export").order_by("pk")
    assert [(e.actor_username, e.tenant_id) for e in exports] == [
        (alpha.client_admin.username, alpha.tenant.pk),
        (msp_admin.username, alpha.tenant.pk),
        (msp_admin.username, None),
    ]
    assert exports[1].after == {"filters": {"tenant": "alpha", "action": "identity"}, "via": "page"}


def test_export_neutralises_formulas_in_every_cell(client, alpha, msp_admin):
    hostile = ['=HYPERLINK("http://x")', "+SUM(1,2)", "-2+3", "@cmd", "\tTAB", "\rCR"]
    for n, text in enumerate(hostile):
        record(
            "tenant.update",
            actor=msp_admin,
            tenant=alpha.tenant,
            target=("tenants.tenant", text, text),
            before={"n": n},
        )
    client.force_login(msp_admin)
    rows = csv_rows(client.get(export_url(tenant="alpha")))
    targets = sorted(r["target"] for r in rows)
    assert targets == sorted("'" + text for text in hostile)
    assert sorted(r["target_id"] for r in rows) == targets
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_export_of_five_thousand_events_is_complete(client, alpha, msp_admin):
    history(alpha.tenant, 5000, start=timezone.now() - dt.timedelta(days=10))
    client.force_login(msp_admin)
    response = client.get(export_url(tenant="alpha"))
    assert response.streaming
    chunks = list(response.streaming_content)
    assert len(chunks) > 2, "written a chunk at a time, not in one piece"
    body = b"".join(chunks).decode()
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert len(rows) == 5000
    hashes = [row["hash"] for row in rows]
    expected = (
        AuditEvent.objects.filter(tenant_id=alpha.tenant.pk)
        .exclude(action="audit.export")  # the export's own record is not in it
        .order_by("-timestamp", "-id")
    )
    assert hashes == list(expected.values_list("hash", flat=True))


# -- Verify integrity ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_verify_is_for_msp_admins_only(client, trail, alpha, role):
    client.force_login(alpha.people[role])
    count = AuditEvent.objects.count()
    assert client.post(reverse("audit_verify"), {"tenant": "alpha"}).status_code == 403
    # No verification ran: the one new event is the refusal, as a security event.
    assert AuditEvent.objects.exclude(action="security.request_refused").count() == count
    assert "Verify integrity" not in client.get(audit_url()).content.decode()


def test_verify_is_a_post(client, trail, msp_admin):
    client.force_login(msp_admin)
    assert client.get(reverse("audit_verify")).status_code == 405


def test_verify_shows_an_intact_trail_and_is_audited(client, trail, alpha, msp_admin):
    client.force_login(msp_admin)
    response = client.post(reverse("audit_verify"), {"tenant": "alpha"}, follow=True)
    body = response.content.decode()
    assert "The audit trail of Alpha Ltd is intact: 4 event(s) checked." in body
    event = AuditEvent.objects.filter(action="audit.verify").get()
    assert event.tenant_id == alpha.tenant.pk and event.result == "success"
    assert event.after == {"events_checked": 4, "intact": True, "first_break": ""}
    assert event.actor_username == msp_admin.username


def test_verify_shows_the_first_break_after_tampering(client, trail, alpha, msp_admin):
    table = AuditEvent._meta.db_table
    with tampering() as cursor:
        cursor.execute(
            f"UPDATE {table} SET target_display = %s WHERE id = %s",  # noqa: S608
            ["Someone Else", trail["a_onboard"]],
        )
    client.force_login(msp_admin)
    response = client.post(reverse("audit_verify"), {"tenant": "alpha"}, follow=True)
    body = response.content.decode()
    assert "The audit trail of Alpha Ltd is broken after 1 intact event(s)." in body
    assert f"row id={trail['a_onboard']}" in body and "the row was edited" in body
    event = AuditEvent.objects.filter(action="audit.verify").get()
    assert event.result == "failure" and event.after["intact"] is False
    # Bravo's trail was not touched.
    response = client.post(reverse("audit_verify"), {"tenant": "bravo"}, follow=True)
    assert "The audit trail of Bravo GmbH is intact: 2 event(s) checked." in (
        response.content.decode()
    )


def test_verify_the_msp_wide_trail(client, trail, msp_admin):
    client.force_login(msp_admin)
    response = client.post(reverse("audit_verify"), {"tenant": audit_queries.GLOBAL}, follow=True)
    assert "is intact: 1 event(s) checked." in response.content.decode()
    assert AuditEvent.objects.get(action="audit.verify").tenant_id is None


def test_verify_of_an_unknown_tenant_changes_nothing(client, trail, msp_admin):
    client.force_login(msp_admin)
    count = AuditEvent.objects.count()
    response = client.post(reverse("audit_verify"), {"tenant": "nope"}, follow=True)
    assert "Choose whose audit trail to verify." in response.content.decode()
    assert AuditEvent.objects.count() == count


def _shown_time(body: str, event) -> str:
    row = body[body.index(f'id="event-{event.pk}"') :]
    return re.search(r'<span class="when nowrap">(.*?)</span>', row).group(1)


def test_one_tenants_trail_is_in_its_zone_as_its_job_person_and_report_pages(
    client, alpha, msp_admin
):
    """The job, person and report pages of a tenant tell times in its zone; its audit trail
    told UTC, so an auditor matched 13:48 on the report with 18:48 here. A trail of one
    tenant (filtered to it, or all a client admin or account manager of one tenant sees) is
    in that tenant's zone, its From/To days too; across tenants it stays UTC, and says so."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    day = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    events = history(alpha.tenant, 48, start=day, step=dt.timedelta(hours=1))
    noon = events[12]  # 12:00 UTC, 08:00 in New York (EDT from 8 March)
    for person, params in (
        (alpha.people[Role.CLIENT_ADMIN], {}),
        (alpha.people[Role.ACCOUNT_MANAGER], {}),
        (msp_admin, {"tenant": alpha.tenant.slug}),
    ):
        client.force_login(person)
        body = client.get(audit_url(**params)).content.decode()
        assert "Times and dates in America/New_York" in body, person
        assert _shown_time(body, noon) == "10 Mar 2026 08:00:00"
        # the 10th in New York: 04:00 UTC on the 10th to 04:00 UTC on the 11th
        shown = visible(client, date_from="2026-03-10", date_to="2026-03-10", **params)
        assert shown == {e.pk for e in events[4:28]}
    client.force_login(msp_admin)
    body = client.get(audit_url()).content.decode()
    assert "Times and dates in UTC" in body
    assert _shown_time(body, noon) == "10 Mar 2026 12:00:00"


def test_each_event_says_its_action_in_words_beside_its_code(client, trail, msp_admin):
    """The trail showed only codes ("identity.onboard", "directory.create_user") where the
    person page and a client admin's home say "Onboarding requested", "Account created"; the
    code stays beside the words (the Action filter takes it)."""
    client.force_login(msp_admin)
    body = client.get(audit_url()).content.decode()
    for code, words in (
        ("identity.onboard", "Onboarding requested"),
        ("directory.create_user", "Account created"),
    ):
        assert f'<span class="action">{words} <code title="{code}">{code}</code></span>' in body
    assert '<span class="action">Tenant changed <code title="tenant.update">tenant.update' in body


def test_the_trail_tells_dates_in_the_words_of_every_other_page(client, alpha, msp_admin):
    """The trail alone said "2026-03-10 12:00:00" where the person page beside it (and the
    job, report and tenant pages) say "10 Mar 2026 12:00:00"; the event's details too."""
    [event] = history(alpha.tenant, 1, start=dt.datetime(2026, 3, 10, 12, tzinfo=dt.UTC))
    client.force_login(msp_admin)
    body = client.get(audit_url()).content.decode()
    assert _shown_time(body, event) == "10 Mar 2026 12:00:00"
    assert "<dt>Recorded</dt><dd>10 Mar 2026 12:00:00 · chain" in body
    assert "2026-03-10" not in body.split('id="results"')[1]


# -- what a client admin reads ------------------------------------------------------------


def _text(response) -> str:
    """The page as read: tags (and the codes in their attributes) left out."""
    return html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.mark.parametrize("role", [Role.CLIENT_ADMIN, Role.ACCOUNT_MANAGER])
def test_the_page_says_each_action_in_words_and_keeps_its_code_in_the_title(
    client, trail, alpha, role
):
    """A client admin reads "Onboarding requested", not "identity.onboard" (the code stays
    in the title, the Action filter's list and the CSV); the MSP's staff see both."""
    client.force_login(alpha.people[role])
    response = client.get(audit_url())
    text = _text(response)
    assert "Onboarding requested" in text and "Account created" in text
    assert "identity.onboard" not in text and "directory.create_user" not in text
    assert 'title="identity.onboard"' in response.content.decode()


def test_a_client_admins_export_is_named_after_their_tenant(client, trail, alpha):
    client.force_login(alpha.client_admin)
    disposition = client.get(export_url())["Content-Disposition"]
    assert 'filename="audit-alpha-' in disposition, disposition


def test_an_export_across_tenants_says_all(client, trail, msp_admin):
    client.force_login(msp_admin)
    assert 'filename="audit-all-' in client.get(export_url())["Content-Disposition"]


def test_the_action_filter_lists_each_action_by_its_words(client, trail, alpha):
    client.force_login(alpha.client_admin)
    body = client.get(audit_url()).content.decode()
    assert 'list="audit-actions"' in body
    assert '<option value="identity.onboard">Onboarding requested</option>' in body
    assert visible(client, action="identity.onboard") == ids(trail, "a_onboard")


def test_a_person_of_one_tenant_reads_its_name_not_your_tenants(client, trail, alpha, msp_admin):
    client.force_login(alpha.client_admin)
    body = client.get(audit_url()).content.decode()
    assert "Every change in Alpha Ltd, newest first." in body
    client.force_login(msp_admin)
    assert "Every change in the portal, newest first." in client.get(audit_url()).content.decode()
    everyone = make_person("tech-every", Role.TECHNICIAN, all_tenants=True)
    client.force_login(everyone)
    assert "Every change in your tenants, newest first." in client.get(audit_url()).content.decode()


@pytest.mark.parametrize("role", [Role.CLIENT_ADMIN, Role.ACCOUNT_MANAGER])
def test_a_clients_people_filter_without_object_types_and_ids(client, trail, alpha, role):
    """Target type, Target id and Job are the portal's words (provisioning.identity, 17):
    not shown to a client's people, yet the "events of this target" links still filter."""
    client.force_login(alpha.people[role])
    text = _text(client.get(audit_url()))
    assert "Target type" not in text and "Target id" not in text and "All your tenants" not in text
    assert "Target name contains" in text and "Action" in text
    target = {"target_type": "provisioning.identity", "target_id": alpha.identity.pk}
    assert visible(client, **target) == ids(trail, "a_onboard", "a_fail")
    assert visible(client, job=alpha.job.pk) == ids(trail, "a_onboard", "a_fail")


def test_the_msps_staff_keep_every_filter(client, trail, alpha):
    client.force_login(alpha.technician)
    text = _text(client.get(audit_url()))
    assert "Target type" in text and "Target id" in text and "Job" in text


def test_a_trail_of_one_tenant_has_no_tenant_column_and_its_export_keeps_it(
    client, trail, alpha, msp_admin
):
    """Every row of a one-tenant person's trail named the same tenant (polish1): where the
    page is scoped to one tenant (the person's only one, or the filter's) the column goes;
    across tenants it stays, and the CSV export always has it."""
    client.force_login(alpha.client_admin)
    page = client.get(audit_url()).content.decode()
    assert "<span>Tenant</span>" not in page and 'class="tenant"' not in page
    assert any("tenant" in column.lower() for column in csv_rows(client.get(export_url()))[0])

    client.force_login(msp_admin)
    assert "<span>Tenant</span>" in client.get(audit_url()).content.decode()
    filtered = client.get(audit_url(tenant="alpha")).content.decode()
    assert "<span>Tenant</span>" not in filtered and 'class="tenant"' not in filtered
