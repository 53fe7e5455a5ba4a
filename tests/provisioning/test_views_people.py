"""People list (every account of the tenant's directories, managed or not; its search, filters
and pages are tests/provisioning/inventory/test_people_page.py), identity page (desired vs
actual read from the sandbox), tenant page links and the quarantine notice with its release."""

import re
import uuid
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning import services
from provisioning.inventory import matching
from provisioning.inventory.models import Account
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Job
from provisioning.queries import Comparison
from provisioning.tasks import run_job
from tenants.models import DirectoryConnection
from tests.factories import make_person
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
READERS = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


def shown(body: str) -> str:
    """The page's text as read: a username's line-break points (<wbr>) are no characters."""
    return body.replace("<wbr>", "")


def people_url(world) -> str:
    return reverse("people_list", kwargs={"tenant": world.tenant.slug})


def identity_url(world, name="identity_detail") -> str:
    return reverse(name, kwargs={"tenant": world.tenant.slug, "identity_id": world.identity.pk})


@pytest.mark.parametrize("role", READERS)
def test_every_role_of_the_tenant_reads_people_and_identity(client, alpha, role):
    record(
        "identity.onboard",
        actor=alpha.technician,
        tenant=alpha.tenant,
        target=alpha.identity,
        job_id=alpha.job.pk,
    )
    client.force_login(alpha.people[role])
    body = shown(client.get(people_url(alpha)).content.decode())
    assert alpha.identity.display_name in body and alpha.identity.username in body
    assert ("Onboard a person" in body) is (role == Role.TECHNICIAN)

    response = client.get(identity_url(alpha))
    assert response.status_code == 200
    body = response.content.decode()
    assert alpha.identity.username in body and alpha.template.name in body
    assert "identity.onboard" in body  # its audit trail
    assert reverse("job_detail", kwargs={"job_id": alpha.job.pk}) in body  # its jobs
    # the directory comparison loads lazily, with a real link beside the hx-get
    directories = identity_url(alpha, "identity_directories")
    assert f'hx-get="{directories}"' in body and f'href="{directories}"' in body


@pytest.mark.parametrize("role", READERS)
def test_people_lists_the_accounts_nobody_manages_beside_the_managed(client, alpha, role):
    Account.objects.create(
        connection=alpha.connection,
        tenant=alpha.tenant,
        remote_id="legacy-1",
        username="legacy.user@alpha.test",
        display_name="Legacy User",
    )
    matching.rematch(alpha.tenant)
    client.force_login(alpha.people[role])
    body = shown(client.get(people_url(alpha)).content.decode())
    assert "Legacy User" in body and "legacy.user@alpha.test" in body
    assert alpha.identity.display_name in body
    assert "Unmanaged" in body and "Managed" in body


def test_onboarded_by_names_who_did_it_never_a_dash(client, alpha):
    """An identity onboarded without a staff member (the system, the HR webhook, SCIM) is
    "Onboarded by" whoever its identity.onboard event names, not "–"."""
    alpha.identity.created_by = None
    alpha.identity.save(update_fields=["created_by"])
    record("identity.onboard", actor="system", tenant=alpha.tenant, target=alpha.identity)
    client.force_login(alpha.technician)
    body = client.get(identity_url(alpha)).content.decode()
    assert "<dt>Onboarded by</dt><dd>the system," in body  # as the job page says it


def test_audit_events_of_other_people_and_tenants_stay_off_the_page(client, alpha, bravo):
    record("identity.onboard", actor=bravo.technician, tenant=bravo.tenant, target=bravo.identity)
    client.force_login(alpha.technician)
    assert client.get(identity_url(alpha)).context["events"] == []


@pytest.mark.parametrize("role", READERS)
def test_other_tenant_gets_404(client, alpha, bravo, role):
    client.force_login(bravo.people[role])
    assert client.get(people_url(alpha)).status_code == 404
    assert client.get(identity_url(alpha)).status_code == 404
    assert client.get(identity_url(alpha, "identity_directories"), **HX).status_code == 404
    # an identity of A under B's slug is not found either
    url = reverse(
        "identity_detail", kwargs={"tenant": bravo.tenant.slug, "identity_id": alpha.identity.pk}
    )
    assert client.get(url).status_code == 404


def test_person_without_a_role_gets_403(client, alpha):
    from django.contrib.auth import get_user_model

    nobody = get_user_model().objects.create_user("nobody", password="x")  # noqa: S106
    client.force_login(nobody)
    assert client.get(reverse("job_list")).status_code == 403
    assert client.get(reverse("onboard_start")).status_code == 403


# -- desired vs actual, read from the sandbox ----------------------------------------------


@pytest.fixture
def fabrikam(on_sandbox):
    slug = f"fp-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    dirs.job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    dirs.identity = dirs.job.identity
    return dirs


def directories_of(client, dirs) -> str:
    url = reverse(
        "identity_directories",
        kwargs={"tenant": dirs.tenant.slug, "identity_id": dirs.identity.pk},
    )
    response = client.get(url, **HX)
    assert response.status_code == 200
    return response.content.decode()


def test_identity_without_an_account_yet(client, fabrikam):
    client.force_login(fabrikam.technician)
    body = directories_of(client, fabrikam)
    assert "<html" not in body and "no account" in body
    assert f"No account for {fabrikam.identity.username}" in body
    assert "Missing: Staff, Sales" in body


def test_identity_desired_vs_actual(client, fabrikam):
    created = fabrikam.add_entra_user(fabrikam.identity.username, "Ada", "Lovelace")
    DirectoryAccount.objects.create(
        identity=fabrikam.identity,
        connection=fabrikam.tenant.connections.get(kind="entra"),
        remote_id=created["id"],
    )
    client.force_login(fabrikam.technician)
    body = directories_of(client, fabrikam)
    assert "differs" in body and 'sign-in <span class="ok">allowed' in body
    assert "Missing: SPE_E3" in body and "Missing: Salesforce" in body
    assert "Account Executive" in body  # the desired job title, absent in the directory


def joined_by_a_technician(client, dirs) -> None:
    """Ada Lovelace onboarded with the tenant's template and verified; the client signed in
    as a technician of the tenant, for the comparison."""
    slug = dirs.tenant.slug
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(
        dirs.tenant, request, username=f"ada.lovelace@{dirs.tenant.primary_domain}", actor="system"
    )
    run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    dirs.identity = job.identity
    client.force_login(technician)


def test_a_joined_person_is_in_sync_with_an_app_named_with_its_role(client, on_sandbox):
    """A template's "Salesforce / User" is the app Salesforce given with that role: once the
    join has verified, the page says in sync, not "Missing: Salesforce / User"."""
    slug = f"fr-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, ("entra",), apps=["Salesforce / User"])
    joined_by_a_technician(client, dirs)
    body = directories_of(client, dirs)
    assert "Missing:" not in body and "Also holds: Salesforce" not in body
    assert "in sync" in body and "differs" not in body
    # Desired "Salesforce / User" beside actual "Salesforce" read as a difference on an
    # in-sync page: the app is named as the directory names it, its role apart.
    assert '<span class="chip">Salesforce <span class="muted">as User</span></span>' in body
    assert "Salesforce / User" not in body


def test_an_app_missing_with_its_role_is_named_as_the_directory_names_it():
    apps = Comparison("Apps", ("Slack / Member", "Zoom"), ("Zoom",))
    assert apps.missing_shown == ["Slack (as Member)"]
    assert Comparison("Groups", ("A / B",), ()).missing_shown == ["A / B"]


def test_a_group_an_entra_rule_fills_is_told_rule_based_not_held_beyond(client, on_sandbox):
    """A Sales joiner's Groups read "Also holds: Sales (dynamic)" where the drift card above
    it found nothing and the job's read-back said the rule added them: the page says so too."""
    slug = f"fd-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    joined_by_a_technician(client, dirs)
    body = directories_of(client, dirs)
    assert "Sales (dynamic)" in body  # held, and shown as held
    assert "Also holds: Sales (dynamic)" not in body
    assert "“Sales (dynamic)” is rule-based: the directory added the person by its rule." in body


def test_a_scim_app_shows_no_apps_row_it_cannot_hold(client, on_sandbox):
    """A SCIM app (the demo's "Slack (SCIM)") showed an Apps row of "–" against "–": it has
    no apps to assign, as its job's read-back already says by leaving the column out."""
    slug = f"fs-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, ("entra",))
    connection = connect(dirs.tenant, make_app(on_sandbox, "full"), "Wiki")
    dirs.template.scim_apps = [{"connection": connection.pk, "groups": []}]
    dirs.template.save()
    joined_by_a_technician(client, dirs)
    entra, app = directories_of(client, dirs).split('<div class="directory-view">')[1:]
    assert "Wiki" in app and "in sync" in app
    assert '<th scope="row">Groups</th>' in app
    assert '<th scope="row">Apps</th>' not in app
    assert '<th scope="row">Apps</th>' in entra


def test_a_leaver_whose_leave_verified_is_in_sync(client, fabrikam):
    """A leave changes no attribute (the planner compares none for a leaver): the department
    the account keeps is no difference, and the page shows the leave is complete."""
    run_job(fabrikam.job.pk)
    options = lifecycle.OffboardingOptions.preset_for(fabrikam.tenant)
    leave = lifecycle.request_offboarding(fabrikam.identity, options, actor="system")
    run_job(leave.pk)
    leave.refresh_from_db()
    assert leave.status == Job.Status.SUCCEEDED, leave.error
    client.force_login(fabrikam.technician)
    body = directories_of(client, fabrikam)
    assert 'sign-in <span class="bad">blocked' in body
    assert "in sync" in body and "differs" not in body
    assert "not changed at a leave" in body  # the department row, shown but not compared


def test_an_okta_leavers_everyone_group_is_told_built_in_not_held_beyond(client, on_sandbox):
    """An Okta leaver's Groups read "Also holds: Everyone", as if the offboarding had left
    access behind; the job's read-back says why it stays, and so does this page now."""
    slug = f"fe-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, ("okta",))
    technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    join = services.request_onboarding(
        dirs.tenant, request, username=f"ada.lovelace@{slug}.example", actor="system"
    )
    drive(join)  # the Okta calls may be paced: run again until it ends, as a worker does
    dirs.identity = join.identity
    options = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    leave = lifecycle.request_offboarding(dirs.identity, options, actor="system")
    leave = drive(leave)
    assert leave.status == Job.Status.SUCCEEDED, leave.error
    client.force_login(technician)
    body = directories_of(client, dirs)
    assert "Also holds: Everyone" not in body
    assert "“Everyone” is built in: the directory holds everyone in it." in body


def test_an_app_no_role_gives_is_no_account_as_desired(client, fabrikam, on_sandbox):
    """A SCIM app the person's templates do not give holds no account by design: the page
    says so, not "no account … yet" in warning colours beside a missing display name."""
    connect(fabrikam.tenant, make_app(on_sandbox, "slack"))
    client.force_login(fabrikam.technician)
    body = directories_of(client, fabrikam)
    slack = body[body.index("Slack") :]
    assert "no account, as desired" in slack and "yet" not in slack
    assert "Display name" not in slack


def test_unreadable_directory_says_so(client, fabrikam):
    broken = DirectoryConnection(
        tenant=fabrikam.tenant, kind="okta", org_url="https://127.0.0.1:9/okta/none"
    )
    broken.set_secret("whatever")
    broken.save()
    client.force_login(fabrikam.technician)
    body = directories_of(client, fabrikam)
    assert "This directory could not be read:" in body and "not readable" in body
    assert "Microsoft Entra ID" in body  # the readable one is still shown


def test_whole_page_fallback_without_htmx(client, fabrikam):
    client.force_login(fabrikam.technician)
    url = reverse(
        "identity_directories",
        kwargs={"tenant": fabrikam.tenant.slug, "identity_id": fabrikam.identity.pk},
    )
    body = client.get(url).content.decode()
    assert "<html" in body and "Missing: Staff, Sales" in body and 'hx-trigger="load"' not in body


# -- tenant page: links, quarantine notice, release ----------------------------------------


def quarantine(world) -> DirectoryConnection:
    connection = world.connection
    connection.quarantined_at = timezone.now()
    connection.quarantine_reason = "23 of the last 50 calls failed: 503 Service Unavailable"
    connection.save()
    return connection


def tenant_page(client, world) -> str:
    return client.get(
        reverse("tenant_detail", kwargs={"tenant": world.tenant.slug})
    ).content.decode()


def test_tenant_page_links_people_and_onboarding(client, alpha):
    client.force_login(alpha.technician)
    body = tenant_page(client, alpha)
    assert people_url(alpha) in body
    assert reverse("onboard", kwargs={"tenant": alpha.tenant.slug}) in body
    client.force_login(alpha.client_admin)
    body = tenant_page(client, alpha)
    assert people_url(alpha) in body
    assert reverse("onboard", kwargs={"tenant": alpha.tenant.slug}) not in body


def test_the_quarantine_notice_tells_its_times_in_the_tenants_zone(client, alpha):
    """Quarantined at 14:30 UTC reads 09:30 in New York; each time says which zone it is in."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    connection = quarantine(alpha)
    connection.quarantined_at = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
    connection.save(update_fields=["quarantined_at"])
    client.force_login(alpha.technician)
    body = tenant_page(client, alpha)
    notice = body[body.index(f'id="quarantine-{connection.pk}"') :].split("</div>", 1)[0]
    assert "since 3 Dec 2026 09:30 America/New_York" in notice
    assert re.search(r"one read at \d+ \w+ \d{4} \d\d:\d\d:\d\d America/New_York", notice)


def test_quarantine_notice_and_release_for_msp_admins(client, alpha, msp_admin):
    connection = quarantine(alpha)
    release = reverse(
        "connection_release", kwargs={"tenant": alpha.tenant.slug, "connection_id": connection.pk}
    )
    client.force_login(alpha.technician)
    body = tenant_page(client, alpha)
    assert "is quarantined" in body and "503 Service Unavailable" in body
    assert release not in body
    assert client.post(release).status_code == 403

    client.force_login(msp_admin)
    body = tenant_page(client, alpha)
    form = body[body.index(f'action="{release}"') :].split(">", 1)[0]
    assert "data-confirm=" in form and "quarantine" in form
    assert alpha.tenant.name in form and connection.label in form
    response = client.post(release)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.quarantined_at is None and connection.quarantine_reason == ""
    assert AuditEvent.objects.filter(action="connection.release").count() == 1
    assert "is quarantined" not in tenant_page(client, alpha)


@pytest.mark.parametrize("role", READERS)
def test_release_of_another_tenants_connection_is_404(client, alpha, bravo, role):
    connection = quarantine(alpha)
    client.force_login(bravo.people[role])
    release = reverse(
        "connection_release", kwargs={"tenant": alpha.tenant.slug, "connection_id": connection.pk}
    )
    assert client.post(release).status_code == 404
    connection.refresh_from_db()
    assert connection.quarantined_at is not None


def test_every_time_on_the_persons_page_is_in_the_tenants_zone_and_says_so(client, alpha):
    """A client's people live in its zone: onboarded, jobs and audit events are told in it,
    as the schedule and the lifecycle card already are, and the page names the zone once."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from django.utils import dateformat

    from provisioning.models import Identity

    alpha.tenant.time_zone = "Pacific/Auckland"
    alpha.tenant.save(update_fields=["time_zone"])
    moment = datetime(2026, 1, 15, 10, 0, 5, tzinfo=UTC)  # 23:00:05 in Auckland (NZDT)
    Identity.objects.filter(pk=alpha.identity.pk).update(created_at=moment)
    Job.objects.filter(pk=alpha.job.pk).update(created_at=moment)
    event = record(
        "identity.onboard", actor=alpha.technician, tenant=alpha.tenant, target=alpha.identity
    )
    at = event.timestamp  # append-only: read, not set
    fmt = "j M Y H:i:s"
    in_auckland = dateformat.format(at.astimezone(ZoneInfo("Pacific/Auckland")), fmt)
    in_utc = dateformat.format(at.astimezone(UTC), fmt)
    client.force_login(alpha.account_manager)
    body = client.get(identity_url(alpha)).content.decode()
    assert "Times in Pacific/Auckland." in body
    assert ", 15 Jan 2026 23:00</dd>" in body  # onboarded
    # The job's row (its cell names its column for a phone: a label hidden on a wider screen).
    assert '<span class="cell-label">Created </span>15 Jan 2026 23:00</td>' in body
    assert f"<td>{in_auckland}</td>" in body and in_utc not in body  # the audit event
    assert "15 Jan 2026 10:00" not in body


def test_the_persons_audit_trail_says_what_each_directory_call_did(client, alpha):
    """Four rows of "directory.add_group" by "System" said nothing of which group, where: the
    account manager showing a client what was done had to open each event elsewhere."""
    change = {"directory": "Okta", "target": "Finance", "attempt": 1}
    record("directory.add_group", actor="system", tenant=alpha.tenant, target=alpha.identity,
           after=change, job_id=alpha.job.pk)  # fmt: skip
    client.force_login(alpha.account_manager)
    page = client.get(identity_url(alpha)).content.decode()
    trail = page[page.index("<h2>Audit trail</h2>") :]
    row = trail[trail.index("directory.add_group") :].split("</tr>")[0]
    assert re.search(r"Finance.*Okta", re.sub(r"<[^>]+>", "", row), re.S), row


def test_a_persons_history_says_what_happened_in_words(client, alpha):
    """The person page's history listed `directory.add_group`: the audit page's filter code."""
    record("directory.add_group", actor="system", tenant=alpha.tenant, target=alpha.identity)
    client.force_login(alpha.people[Role.CLIENT_ADMIN])
    body = client.get(identity_url(alpha)).content.decode()
    assert '<span title="directory.add_group">Added to a group</span>' in body
