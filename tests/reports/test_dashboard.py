"""The cross-tenant dashboard: figures per tenant, who sees what, sort, tag, htmx, queries."""

import html
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from provisioning.models import AccessRequest, Job
from reports.dashboard import build_dashboard
from reports.licences import snapshots_for
from reports.tasks import refresh_licence_snapshots
from tests.factories import make_person
from tests.provisioning.directories import make_directories
from tests.reports.conftest import read_licences
from tests.reports.history import bare_world, job, person, resource

DASHBOARD = "/"


def row_of(board, world):
    return next(r for r in board.rows if r.slug == world.tenant.slug)


@pytest.fixture
def busy(alpha, bravo):
    """Tenant A with today's work, trouble and next week's schedule; B with a little."""
    now = timezone.now()
    w = alpha
    ada = person(w, "Ada", "Busy")
    job(w, ada, "join", created=now - timedelta(minutes=2), hours=0.01)
    job(w, ada, "change", created=now - timedelta(minutes=1), hours=0.01)
    Job.objects.create(
        tenant=w.tenant,
        identity=ada,
        kind="leave",
        status="waiting",
        waiting_reason="Throttled by the directory; retrying in 30 s.",
    )
    Job.objects.create(
        tenant=w.tenant,
        identity=ada,
        kind="join",
        status="scheduled",
        not_before=now + timedelta(days=3),
    )
    Job.objects.create(
        tenant=w.tenant,
        identity=ada,
        kind="change",
        status="scheduled",
        not_before=now + timedelta(days=2),
        options={"enable": True},
    )
    Job.objects.create(
        tenant=w.tenant,
        identity=ada,
        kind="leave",
        status="scheduled",
        not_before=now + timedelta(days=5),
    )
    Job.objects.create(
        tenant=w.tenant,
        identity=ada,
        kind="leave",
        status="scheduled",
        not_before=now + timedelta(days=10),
    )  # beyond the week
    w.connection.secret_expires_on = timezone.localdate() + timedelta(days=12)
    w.connection.save()
    w.okta_connection.quarantined_at = now
    w.okta_connection.quarantine_reason = "38 of the last 50 calls failed"
    w.okta_connection.save()
    AccessRequest.objects.create(
        tenant=w.tenant,
        identity=ada,
        resource=resource(w),
        reason="please",
        requested_by=w.technician,
    )
    read_licences(w, consumed=22, total=25, when=now - timedelta(minutes=5))
    w.tenant.tags = ["gold", "microsoft-365"]
    w.tenant.save()
    return w


def test_a_tenants_row_has_its_figures(busy, bravo, msp_admin):
    board = build_dashboard(msp_admin)
    row = row_of(board, busy)
    # Booked today: the world's failed join, a join and a change done, a waiting leave, and
    # four scheduled jobs (one of them beyond next week).
    assert row.today_total == 8
    assert row.today_breakdown == [
        ("done", 2, "ok"),
        ("failed", 1, "bad"),
        ("in progress", 1, "info"),
        ("planned", 4, ""),
    ]
    assert row.failures == 1 and row.latest_failure == busy.job.pk
    assert (row.failed_step.order, row.failed_step.action) == (1, "Create user")
    assert [c.kind for c in row.quarantined] == ["Okta"]
    assert row.throttled == 1
    assert [(c.kind, c.days) for c in row.expiring] == [("Microsoft Entra ID", 12)]
    assert [(s.name, s.free, s.total) for s in row.licences] == [("SPE_E3", 3, 25)]
    assert row.pending_approvals == 1
    assert (row.joiners_next, row.movers_next, row.leavers_next) == (2, 0, 1)
    other = row_of(board, bravo)
    assert other.failures == 1 and not other.quarantined and other.pending_approvals == 0


def test_a_failure_ended_today_of_a_job_made_long_ago_is_counted_as_it_is_listed(busy, msp_admin):
    """A hard delete is made when the leave is verified and runs after the grace period: one
    made 30 days ago that failed today was listed under "Failures needing attention"
    (leftover1) and not counted in its tenant's Failures, which read jobs made in the window
    (polish2). Both count a job made or ended in it."""
    now = timezone.now()
    delete = job(
        busy,
        person(busy, "Del", "Ayed"),
        "delete",
        created=now - timedelta(days=30),
        not_before=now - timedelta(hours=1),
        hours=0.5,
        status="failed",
    )
    board = build_dashboard(msp_admin)
    row = row_of(board, busy)
    listed = [f for f in board.attention if f.tenant_slug == busy.tenant.slug]
    assert delete.pk in [f.id for f in listed]
    assert row.failures == len(listed) == 2 and row.latest_failure == delete.pk


def test_a_job_waiting_for_a_licence_choice_is_counted_apart(busy, msp_admin):
    Job.objects.create(
        tenant=busy.tenant,
        identity=person(busy, "Bo", "Waiting"),
        kind="join",
        status=Job.Status.NEEDS_CHOICE,
        waiting_reason="No free seat of SPE_E3",
    )
    row = row_of(build_dashboard(msp_admin), busy)
    assert ("needs a choice", 1, "warn") in row.today_breakdown
    assert ("in progress", 1, "info") in row.today_breakdown  # the throttled leave only


def test_the_page_shows_them_with_links_to_the_failed_step(client, busy, msp_admin):
    client.force_login(msp_admin)
    body = client.get(DASHBOARD).content.decode()
    assert f'href="/jobs/{busy.job.pk}/#step-1"' in body
    assert "Okta quarantined" in body and "1 throttled" in body
    # the quarantine table spans tenants: its times are in the portal's zone, named
    for column in ("Since", "Next probe", "Last probe"):
        assert f"<th>{column} (UTC)</th>" in body
    assert 'SPE_E3</span> <span class="badge warn">3 free</span>' in body
    assert "read 5\xa0minutes ago" in body
    assert "Alpha Ltd" in body and "Bravo GmbH" in body


def test_a_licence_in_use_beyond_its_seats_reads_none_free_and_how_many_over(
    client, alpha, msp_admin
):
    """Entra restores a user's licences "even if there are no seats available for those
    licenses" (azure-docs users-restore.md): 26 in use of 25 bought. The badge said "-1 free"."""
    read_licences(alpha, consumed=26, total=25, when=timezone.now())
    client.force_login(msp_admin)
    body = client.get(DASHBOARD).content.decode()
    assert "-1 free" not in body
    assert 'SPE_E3</span> <span class="badge bad">none free, 1 over</span>' in body


def test_a_technician_sees_only_their_tenants(client, busy, bravo):
    client.force_login(busy.technician)
    response = client.get(DASHBOARD)
    body = response.content.decode()
    assert [r.slug for r in response.context["board"].rows] == ["alpha"]
    assert "Bravo GmbH" not in body and bravo.identity.display_name not in body


def test_account_managers_land_on_their_reports(client, busy):
    client.force_login(busy.account_manager)
    response = client.get(DASHBOARD)
    assert response.status_code == 302 and response["Location"] == reverse("report_index")


def test_an_account_managers_sidebar_has_no_dashboard_that_is_their_reports(client, busy):
    """Their sidebar's Dashboard opened Client reports with Reports highlighted: two entries
    for one page. Their home is Reports; a technician keeps the Dashboard."""
    link = f'<li><a href="{DASHBOARD}">Dashboard</a></li>'
    client.force_login(busy.account_manager)
    assert link not in client.get(reverse("report_index")).content.decode()
    client.force_login(busy.technician)
    assert link in client.get(reverse("report_index")).content.decode()


def test_client_admins_are_sent_to_their_organisations_home(client, busy, bravo):
    client.force_login(bravo.client_admin)
    response = client.get(DASHBOARD, follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("client_home", args=[bravo.tenant.slug])
    assert "board" not in response.context
    assert "Bravo GmbH" in body and "Alpha Ltd" not in body


def test_tag_filter_and_sort(client, busy, bravo, msp_admin):
    client.force_login(msp_admin)
    board = client.get(DASHBOARD, {"tag": "gold"}).context["board"]
    assert [r.slug for r in board.rows] == ["alpha"] and board.tags == ["gold", "microsoft-365"]
    assert client.get(DASHBOARD, {"tag": "nobody"}).context["board"].rows == []
    by_name = client.get(DASHBOARD, {"sort": "-name"}).context["board"]
    assert [r.slug for r in by_name.rows] == ["bravo", "alpha"]
    by_approvals = client.get(DASHBOARD, {"sort": "-approvals"}).context["board"]
    assert by_approvals.rows[0].slug == "alpha"
    fallback = client.get(DASHBOARD, {"sort": "drop table"}).context["board"]
    assert fallback.sort == "attention" and fallback.rows[0].slug == "alpha"


def test_htmx_poll_returns_the_board_partial(client, busy, msp_admin):
    client.force_login(msp_admin)
    body = client.get(DASHBOARD, {"tag": "gold"}, HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<div id="board" data-hx-get="/?tag=gold&amp;sort=attention"')
    assert 'hx-trigger="every 15s"' in body and "<html" not in body


@pytest.mark.parametrize("extra", [0, 18])
def test_queries_do_not_grow_with_tenants(
    client, busy, bravo, msp_admin, extra, django_assert_max_num_queries, django_assert_num_queries
):
    for i in range(extra):  # 2 tenants, then 20, each with a failed job and a licence reading
        world = bare_world(f"extra{i}", f"Extra {i}")
        read_licences(world)
    tech = make_person("tech-all", Role.TECHNICIAN, all_tenants=True)
    for who in (msp_admin, tech):
        client.force_login(who)
        with django_assert_max_num_queries(12):
            response = client.get(DASHBOARD)
        assert len(response.context["board"].rows) == 2 + extra
    with django_assert_num_queries(8):  # tenants, 2 x jobs, buckets, connections, approvals,
        build_dashboard(busy.technician, tag="gold", sort="-failures")  # failed jobs, steps


# -- licence readings ----------------------------------------------------------------------


def test_refresh_reads_the_directory_and_the_page_never_does(client, on_sandbox, msp_admin):
    dirs = make_directories(on_sandbox, f"lic-{uuid.uuid4().hex[:6]}", seats=40)
    tech = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    client.force_login(tech)
    response = client.post(
        reverse("licences_refresh", kwargs={"tenant": dirs.tenant.slug}), {"sort": "-licences"}
    )
    assert response.status_code == 302 and response["Location"] == "/?sort=-licences"
    connection = dirs.tenant.connections.get()
    [snapshot] = snapshots_for([connection.pk]).values()
    assert {(s.name, s.total, s.consumed) for s in snapshot.skus} == {
        ("SPE_E3", 40, 0),
        ("EMS", 50, 0),
    }
    assert not snapshot.error
    calls = dirs.stats("entra")["total_calls"]
    body = client.get(DASHBOARD).content.decode()
    assert "40 free" in body and "read just now" in body
    assert dirs.stats("entra")["total_calls"] == calls, "rendering called the directory"


def test_the_beat_task_reads_every_tenant_and_a_failure_keeps_the_last_counts(db, on_sandbox):
    dirs = make_directories(on_sandbox, f"lic-{uuid.uuid4().hex[:6]}", seats=7)
    connection = dirs.tenant.connections.get()
    assert refresh_licence_snapshots(dirs.tenant.pk) == 1
    dirs.behave("entra", error_rate=1.0)
    refresh_licence_snapshots(dirs.tenant.pk)
    snapshot = snapshots_for([connection.pk])[connection.pk]
    assert snapshot.error and ("SPE_E3", 7) in {(s.name, s.total) for s in snapshot.skus}


def test_who_may_refresh(client, alpha, bravo):
    url = reverse("licences_refresh", kwargs={"tenant": alpha.tenant.slug})
    client.force_login(alpha.account_manager)
    assert client.post(url).status_code == 403
    client.force_login(bravo.technician)
    assert client.post(url).status_code == 404
    client.force_login(alpha.technician)
    assert client.get(url).status_code == 405


def test_what_clients_asked_the_msp_to_do_is_on_the_dashboard(client, alpha, bravo):
    """A client admin's "Ask to onboard someone" was seen by no technician unless they opened
    that tenant's "Requests to act": the dashboard counts the open ones per tenant and links
    there (a handled one no longer counts; another tenant's is not shown to A's technician)."""
    from provisioning.models import ActionRequest

    def ask(world, first: str, status=ActionRequest.Status.OPEN) -> None:
        ActionRequest.objects.create(
            tenant=world.tenant,
            kind=ActionRequest.Kind.ONBOARD,
            status=status,
            details={"first_name": first, "last_name": "Asked"},
            requested_by=world.people[Role.CLIENT_ADMIN],
        )

    ask(alpha, "Katherine")
    ask(alpha, "Dorothy")
    ask(alpha, "Mary", status=ActionRequest.Status.DONE)
    ask(bravo, "Bruno")
    client.force_login(alpha.technician)
    body = client.get(DASHBOARD).content.decode()
    card = body[body.index('id="client-asks"') :].split("</section>")[0]
    link = reverse("action_request_list", kwargs={"tenant": alpha.tenant.slug})
    assert f'href="{link}"' in card and alpha.tenant.name in card
    assert "2 open" in card
    assert bravo.tenant.name not in card
    board = build_dashboard(alpha.technician)
    assert board.asks_total == 2


def test_the_seats_say_why_a_dry_run_counts_otherwise(client, busy, msp_admin):
    """The dashboard said "53 free" where an onboarding dry run said "SPE_E3 (50 available)"
    for the same licence (polish1): its count is the last reading, the dry run's the
    directory's now. Both pages say so."""
    client.force_login(msp_admin)
    body = html.unescape(client.get(DASHBOARD).content.decode())
    assert "a dry run reads the directory again" in body
