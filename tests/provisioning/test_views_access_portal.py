"""The client admin's part of the portal: landing on their tenant's home after sign-in, pending
approvals first with inline decisions, their people with the access they hold from requests,
recent jobs and the audit trail; the "waiting for you" count; requests to act (onboard,
offboard) and the technicians' list of them; anyone's e-mail settings."""

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role, StaffProfile
from provisioning.access import services as ar
from provisioning.context_processors import waiting
from provisioning.models import AccessRequest, ActionRequest, Identity, Job
from tests.factories import PASSWORD, make_joiner, make_person
from tests.provisioning.test_views_access import HX, file, granted, requestable

pytestmark = pytest.mark.django_db


def url(name: str, world, **kwargs) -> str:
    return reverse(name, kwargs={"tenant": world.tenant.slug, **kwargs})


@pytest.fixture
def vpn(alpha):
    return requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)


@pytest.fixture
def wiki(alpha):
    return requestable(alpha, "Alpha Wiki", kind="app")


# -- landing and the home page ----------------------------------------------------------------


def test_a_client_admin_lands_on_their_tenants_home(client, alpha, bravo):
    response = client.post(reverse("login"), {"username": "ca-alpha", "password": PASSWORD})
    assert response["Location"] == reverse("client_landing")
    response = client.get(response["Location"])
    assert response["Location"] == url("client_home", alpha)
    # the portal's root, as a bookmark, also brings them home after signing in
    client.logout()
    response = client.post(
        reverse("login") + "?next=/", {"username": "ca-alpha", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == url("client_home", alpha)
    assert "Alpha Ltd" in response.content.decode()


def test_staff_still_land_where_they_did(client, alpha):
    response = client.post(reverse("login"), {"username": "tech-alpha", "password": PASSWORD})
    assert response["Location"] == reverse("dashboard")
    client.force_login(alpha.technician)
    assert client.get(reverse("client_landing"))["Location"] == reverse("dashboard")


def test_pending_approvals_come_first_and_decide_inline(client, alpha, bravo, vpn, wiki):
    make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])  # who decides theirs
    theirs = file(alpha, wiki, by=alpha.client_admin, days=None)  # not theirs to decide
    mine = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    response = client.get(url("client_home", alpha))
    assert response.status_code == 200
    page = response.content.decode()
    assert [row["request"] for row in response.context["approvals"]] == [mine, theirs]
    assert page.index('id="approvals"') < page.index('id="people"') < page.index('id="audit"')
    assert "1 request waiting for your decision." in page
    decide = url("access_request_decide", alpha, request_id=mine.pk)
    assert f'hx-post="{decide}"' in page and f'id="decision-{mine.pk}"' in page
    assert f'action="{url("access_request_decide", alpha, request_id=theirs.pk)}"' not in page
    assert "You asked for this access, so someone else approves it." in page
    assert bravo.tenant.name not in page

    response = client.post(
        decide, {"decision": "deny", "reason": "Not this quarter", "inline": "1"}, **HX
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert f'id="decision-{mine.pk}"' in body and 'data-status="denied"' in body


def test_the_home_shows_people_with_their_access_jobs_and_the_audit_trail(
    client, alpha, bravo, vpn, wiki
):
    granted(file(alpha, vpn))
    file(alpha, wiki, days=None)  # pending: not access yet
    file(bravo, requestable(bravo, "Bravo VPN"), days=None)
    client.force_login(alpha.client_admin)
    response = client.get(url("client_home", alpha))
    page = response.content.decode()
    person = next(p for p in response.context["people"] if p.pk == alpha.identity.pk)
    assert [r.resource.name for r in person.live_requests] == ["Alpha VPN"]
    assert "Alpha VPN · until" in page
    assert f"Join #{alpha.job.pk}" in page  # recent jobs
    assert "access.request" in page  # the tenant's audit trail
    for marker in (bravo.tenant.name, bravo.identity.display_name, "Bravo VPN"):
        assert marker not in page


def test_after_a_decision_the_home_fetches_its_jobs_and_audit_trail_again(client, alpha, vpn):
    """An approval starts a grant job and writes the trail: the home's recent jobs and audit
    sections come back, out of band, with the "waiting" sentence the decision asks for."""
    filed = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    page = client.get(url("client_home", alpha)).content.decode()
    assert "access.approve" not in page and "Grant access #" not in page
    decide = url("access_request_decide", alpha, request_id=filed.pk)
    response = client.post(decide, {"decision": "approve", "reason": "Fine", "inline": "1"}, **HX)
    assert response["HX-Trigger"] == "access-decided"
    grant = Job.objects.get(kind=Job.Kind.GRANT, identity=alpha.identity)

    body = client.get(url("client_home_waiting", alpha), **HX).content.decode()
    assert "Nothing is waiting for your decision." in body
    jobs = body[body.index('id="recent-jobs"') :]
    jobs = jobs[: jobs.index("</section>")]
    assert f"Grant access #{grant.pk}" in jobs and 'data-hx-swap-oob="true"' in body
    trail = body[body.index('id="audit"') :]
    assert "access.approve" in trail[: trail.index("</section>")]
    # the page's own sections carry the ids the out-of-band swap replaces
    page = client.get(url("client_home", alpha)).content.decode()
    assert page.count('id="recent-jobs"') == 1 and page.count('id="audit"') == 1


def test_when_the_grant_ends_the_home_fetches_its_people_jobs_and_trail_again(client, alpha, vpn):
    """The approved request's panel polls until the grant job ends; its last answer tells
    the page (`access-settled`), which fetches its sections again: the person holds the
    access and the job is no longer shown queued."""
    filed = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    home = client.get(url("client_home", alpha)).content.decode()
    assert re.search(r'data-hx-trigger="[^"]*access-settled from:body', home)
    ar.approve(filed, actor=alpha.client_admin, reason="Fine")
    filed.refresh_from_db()
    panel = url("access_request_detail", alpha, request_id=filed.pk) + "?inline=1"
    assert "HX-Trigger" not in client.get(panel, **HX)  # still granting: nothing settled
    Job.objects.filter(pk=filed.grant_job_id).update(status=Job.Status.SUCCEEDED)
    granted(filed)
    assert client.get(panel, **HX)["HX-Trigger"] == "access-settled"

    body = client.get(url("client_home_waiting", alpha), **HX).content.decode()
    people = body[body.index('id="people"') :]
    assert "Alpha VPN · until" in people[: people.index("</section>")]
    jobs = body[body.index('id="recent-jobs"') :]
    assert f"Grant access #{filed.grant_job_id}" in jobs and "Succeeded" in jobs


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, "msp_admin"])
def test_msp_staff_see_the_client_view_without_deciding(client, alpha, msp_admin, vpn, role):
    make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])  # so it has an approver
    pending = file(alpha, vpn, by=alpha.client_admin)
    client.force_login(msp_admin if role == "msp_admin" else alpha.people[role])
    page = client.get(url("client_home", alpha)).content.decode()
    assert "as its client admin sees it" in page
    assert f'id="decision-{pending.pk}"' in page and "Waiting for an approver." in page
    assert url("access_request_decide", alpha, request_id=pending.pk) not in page


def test_another_tenants_client_admin_gets_404(client, alpha, bravo):
    client.force_login(bravo.client_admin)
    assert client.get(url("client_home", alpha)).status_code == 404


# -- waiting for you --------------------------------------------------------------------------


def test_the_sidebar_counts_what_waits_for_the_client_admin(client, alpha, bravo, vpn, wiki):
    file(alpha, vpn)
    file(alpha, wiki, days=None)
    file(bravo, requestable(bravo, "Bravo VPN"), days=None)
    client.force_login(alpha.client_admin)
    page = client.get(url("access_request_list", alpha)).content.decode()
    assert 'id="waiting-for-you"' in page
    assert re.search(
        r'Waiting for you <span class="count some" id="waiting-count"[^>]*>2</span>', page
    )
    client.force_login(alpha.technician)
    assert (
        'id="waiting-for-you"' not in client.get(url("access_request_list", alpha)).content.decode()
    )


def test_the_count_is_one_query(alpha, vpn, django_assert_num_queries):
    file(alpha, vpn)
    request = RequestFactory().get("/")
    request.user = (
        type(alpha.client_admin).objects.select_related("profile").get(pk=alpha.client_admin.pk)
    )
    context = waiting(request)
    with django_assert_num_queries(1):
        assert context["waiting_count"]() == 1
        assert context["waiting_count"]() == 1  # asked twice by the template, counted once


# -- requests to act --------------------------------------------------------------------------


def test_a_client_admin_asks_to_onboard_someone(client, alpha):
    client.force_login(alpha.client_admin)
    new = url("action_request_new", alpha)
    assert client.get(new, {"kind": "onboard"}).status_code == 200
    response = client.post(
        new,
        {
            "kind": "onboard",
            "first_name": " Grace ",
            "last_name": "Hopper",
            "role_template": alpha.template.pk,
            "job_title": "Analyst",
            "start_date": "2030-01-06",
            "note": "Needs a laptop",
        },
    )
    assert response.status_code == 400  # more than a year ahead
    response = client.post(
        new,
        {
            "kind": "onboard",
            "first_name": " Grace ",
            "last_name": "Hopper",
            "role_template": alpha.template.pk,
            "job_title": "Analyst",
            "start_date": Job.objects.get().created_at.date().isoformat(),
            "note": "Needs a laptop",
        },
    )
    assert response.status_code == 302 and response["Location"] == url("client_home", alpha)
    asked = ActionRequest.objects.get()
    assert (asked.kind, asked.status, asked.requested_by) == ("onboard", "open", alpha.client_admin)
    assert (
        asked.details["first_name"] == "Grace" and asked.details["role_name"] == alpha.template.name
    )
    assert asked.note == "Needs a laptop"
    event = AuditEvent.objects.get(action="action_request.file")
    assert event.tenant_id == alpha.tenant.pk and event.after["last_name"] == "Hopper"


def test_a_client_admins_ask_to_onboard_offers_the_tenants_today(client, alpha):
    """The ask's start date is filled in as the technician's form fills it: the tenant's own
    today (not UTC's), so an evening ask in a zone behind UTC does not start tomorrow."""
    from django.utils import timezone

    from tenants import clock
    from tenants.models import Tenant

    zone = "Etc/GMT+12" if timezone.now().hour < 12 else "Pacific/Kiritimati"
    Tenant.objects.filter(pk=alpha.tenant.pk).update(time_zone=zone)
    alpha.tenant.refresh_from_db()
    assert clock.tenant_today(alpha.tenant) != timezone.localdate()
    client.force_login(alpha.client_admin)
    page = client.get(url("action_request_new", alpha), {"kind": "onboard"}).content.decode()
    field = page[page.index('name="start_date"') :].split(">")[0]
    assert f'value="{clock.tenant_today(alpha.tenant).isoformat()}"' in field


def test_a_client_admin_asks_to_offboard_an_active_person_once(client, alpha):
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.ACTIVE)
    client.force_login(alpha.client_admin)
    new = url("action_request_new", alpha)
    form = client.get(new, {"kind": "offboard", "identity": alpha.identity.pk}).context["form"]
    assert form["identity"].value() == str(alpha.identity.pk)
    data = {"kind": "offboard", "identity": alpha.identity.pk, "last_day": "", "note": ""}
    assert client.post(new, data).status_code == 302
    again = client.post(new, data)
    assert again.status_code == 400
    assert "An offboarding of Pat Member-alpha is asked for already." in again.content.decode()
    assert ActionRequest.objects.get().identity == alpha.identity


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "onboard", "first_name": "", "last_name": "Hopper"}, "This field is required."),
        (
            {"kind": "onboard", "first_name": "<b>", "last_name": "x"},
            "Holds &lt; or &gt;: use plain text.",
        ),
        ({"kind": "offboard", "identity": ""}, "This field is required."),
        ({"kind": "offboard", "identity": "BRAVO"}, "Choose an active person of this tenant."),
        ({"kind": "offboard", "identity": "LEFT"}, "Choose an active person of this tenant."),
    ],
)
def test_bad_requests_to_act_are_named_and_file_nothing(client, alpha, bravo, data, message):
    left, _ = make_joiner(alpha, "Lee", "Left")
    Identity.objects.filter(pk=left.pk).update(status=Identity.Status.LEFT)
    data = dict(data, start_date="2026-01-01")
    data["identity"] = {"BRAVO": bravo.identity.pk, "LEFT": left.pk}.get(
        data.get("identity"), data.get("identity", "")
    )
    client.force_login(alpha.client_admin)
    response = client.post(url("action_request_new", alpha), data)
    assert response.status_code == 400 and message in response.content.decode()
    assert not ActionRequest.objects.exists()


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER])
def test_only_client_admins_ask_the_msp(client, alpha, role):
    client.force_login(alpha.people[role])
    assert client.get(url("action_request_new", alpha)).status_code == 403
    data = {"kind": "onboard", "first_name": "A", "last_name": "B", "start_date": "2026-01-01"}
    assert client.post(url("action_request_new", alpha), data).status_code == 403


def onboarding_asked(world) -> ActionRequest:
    return ActionRequest.objects.create(
        tenant=world.tenant,
        kind="onboard",
        details={
            "first_name": "Grace",
            "last_name": "Hopper",
            "role_template": world.template.pk,
            "role_name": world.template.name,
            "job_title": "Analyst",
            "start_date": "2026-12-01",
        },
        requested_by=world.client_admin,
    )


def test_technicians_open_the_onboarding_form_filled_in(client, alpha):
    asked = onboarding_asked(alpha)
    client.force_login(alpha.technician)
    response = client.get(url("action_request_list", alpha))
    row = response.context["rows"][0]
    assert row["what"] == "Onboard Grace Hopper"
    assert row["act_url"].startswith(url("onboard", alpha) + "?")
    assert f'id="action-{asked.pk}"' in response.content.decode()
    form = client.get(row["act_url"]).context["form"]
    assert form["first_name"].value() == "Grace" and form["last_name"].value() == "Hopper"
    assert (
        form["job_title"].value() == "Analyst" and str(form["start_date"].value()) == "2026-12-01"
    )
    assert form["role_templates"].value() == [str(alpha.template.pk)]


def test_an_offboarding_request_links_the_wizard(client, alpha):
    ActionRequest.objects.create(
        tenant=alpha.tenant, kind="offboard", identity=alpha.identity, details={"last_day": ""}
    )
    client.force_login(alpha.technician)
    row = client.get(url("action_request_list", alpha)).context["rows"][0]
    assert row["act_url"] == url("offboard", alpha, identity_id=alpha.identity.pk)
    assert row["what"] == f"Offboard {alpha.identity.display_name}"


def test_marking_done_with_the_job_and_declining_with_a_reason(client, alpha):
    asked, other = onboarding_asked(alpha), onboarding_asked(alpha)
    job = Job.objects.create(tenant=alpha.tenant, identity=alpha.identity, kind=Job.Kind.JOIN)
    client.force_login(alpha.technician)
    done = url("action_request_done", alpha, action_request_id=asked.pk)
    assert client.post(done, {f"r{asked.pk}-job": job.pk}).status_code == 302
    asked.refresh_from_db()
    assert (asked.status, asked.job, asked.handled_by) == ("done", job, alpha.technician)
    response = client.post(done, {f"r{asked.pk}-job": ""}, follow=True)
    assert "This request has been handled already." in response.content.decode()

    decline = url("action_request_decline", alpha, action_request_id=other.pk)
    response = client.post(decline, {"reason": " "}, follow=True)
    assert "Give a reason for declining" in response.content.decode()
    response = client.post(decline, {"reason": "Via the <b>agency</b>"}, follow=True)
    assert "&lt; and &gt; are not allowed" in response.content.decode()
    assert "<b>agency" not in response.content.decode()
    client.post(decline, {"reason": "Grace starts via the agency; they onboard her"})
    other.refresh_from_db()
    assert other.status == "declined"
    assert other.details["decline_reason"] == "Grace starts via the agency; they onboard her"
    actions = list(
        AuditEvent.objects.filter(action__startswith="action_request.").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["action_request.declined", "action_request.done"]
    # the client admin sees the outcome at home
    client.force_login(alpha.client_admin)
    page = client.get(url("client_home", alpha)).content.decode()
    assert "Declined: Grace starts via the agency" in page and f"job #{job.pk}" in page


def test_a_job_of_another_tenant_cannot_be_named(client, alpha, bravo):
    asked = onboarding_asked(alpha)
    client.force_login(alpha.technician)
    done = url("action_request_done", alpha, action_request_id=asked.pk)
    response = client.post(done, {f"r{asked.pk}-job": bravo.job.pk}, follow=True)
    assert "Choose one of the listed jobs" in response.content.decode()
    asked.refresh_from_db()
    assert asked.status == "open"


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_read_roles_see_the_list_but_do_not_act(client, alpha, role):
    asked = onboarding_asked(alpha)
    client.force_login(alpha.people[role])
    response = client.get(url("action_request_list", alpha))
    assert response.status_code == 200 and "Mark done" not in response.content.decode()
    done = url("action_request_done", alpha, action_request_id=asked.pk)
    decline = url("action_request_decline", alpha, action_request_id=asked.pk)
    assert client.post(done).status_code == 403
    assert client.post(decline, {"reason": "no"}).status_code == 403
    asked.refresh_from_db()
    assert asked.status == "open"


def test_another_tenants_technician_gets_404(client, alpha, bravo):
    asked = onboarding_asked(alpha)
    client.force_login(bravo.technician)
    assert client.get(url("action_request_list", alpha)).status_code == 404
    done = url("action_request_done", bravo, action_request_id=asked.pk)
    assert client.post(done).status_code == 404


# -- e-mail settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN, "msp_admin"]
)
def test_anyone_turns_non_essential_mail_off_and_on(client, alpha, msp_admin, role):
    who = msp_admin if role == "msp_admin" else alpha.people[role]
    client.force_login(who)
    page = client.get(reverse("email_settings")).content.decode()
    assert "requests waiting for your decision" in page
    client.post(reverse("email_settings"), {})
    assert StaffProfile.objects.get(user=who).optional_emails is False
    client.post(reverse("email_settings"), {"optional_emails": "on"})
    assert StaffProfile.objects.get(user=who).optional_emails is True
    events = AuditEvent.objects.filter(action="staff.email_settings", actor_user_id=who.pk)
    assert [e.after for e in events.order_by("seq")] == [
        {"optional_emails": False},
        {"optional_emails": True},
    ]


def test_a_person_without_a_role_gets_403(client, db):
    nobody = make_person("nobody", Role.TECHNICIAN)
    StaffProfile.objects.filter(user=nobody).delete()
    client.force_login(type(nobody).objects.get(pk=nobody.pk))
    assert client.get(reverse("email_settings")).status_code == 403


def test_left_access_is_not_shown_as_held(client, alpha, vpn):
    ended = granted(file(alpha, vpn))
    AccessRequest.objects.filter(pk=ended.pk).update(status=AccessRequest.Status.ENDED)
    client.force_login(alpha.client_admin)
    response = client.get(url("client_home", alpha))
    person = next(p for p in response.context["people"] if p.pk == alpha.identity.pk)
    assert person.live_requests == []


def test_the_client_homes_trail_says_what_happened_in_words(client, alpha):
    """A client admin's home listed `directory.add_group` and `job.finish`: the codes the
    audit page filters by, not words; they read "Added to a group", the code kept as a title."""
    from portal.audit.events import record

    target = ("provisioning.identity", alpha.identity.pk, alpha.identity.display_name)
    record("directory.add_group", actor="system", tenant=alpha.tenant, target=target)
    record("job.finish", actor="system", tenant=alpha.tenant, target=target)
    client.force_login(alpha.people[Role.CLIENT_ADMIN])
    body = client.get(url("client_home", alpha)).content.decode()
    assert '<span title="directory.add_group">Added to a group</span>' in body
    assert '<span title="job.finish">Job finished</span>' in body
    assert "<code>directory.add_group</code>" not in body


def test_the_persons_trail_names_the_access_a_request_is_for(client, alpha, vpn):
    """newcomer24: Tobias Lindqvist's page read "Access requested" with nothing in the What
    column, though the event names the access (its `after.resource`)."""
    file(alpha, vpn)
    client.force_login(alpha.technician)
    page = client.get(url("identity_detail", alpha, identity_id=alpha.identity.pk)).content.decode()
    row = re.search(r"<tr><td>[^<]*</td><td><span title=\"access.request\">.*?</tr>", page, re.S)
    assert row, "no Access requested row in the person's trail"
    assert "Alpha VPN" in row.group(0)
