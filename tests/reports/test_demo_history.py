"""`make demo`'s month of history: alive on the pages, history only, once, chain intact."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.demo import seed_people
from provisioning.models import AccessRequest, Identity, Job, RequestableResource
from reports.demo_history import EMPLOYEE_PREFIX, seed_history
from reports.report import build_report
from tenants.models import Tenant

SCHEDULED_OR_QUEUED = ("scheduled", "held", "queued", "running", "waiting")


def requestables() -> None:
    """What `seed_demo_access` makes once the sandbox runs: a requestable group per tenant."""
    for tenant in Tenant.objects.all():
        RequestableResource.objects.create(
            tenant=tenant,
            connection=tenant.connections.first(),
            kind="group",
            remote_id=f"id-of-vpn-{tenant.slug}",
            name="VPN Users",
        )


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The demo and its month of history, made once for the tests that only read them (each
    made its own: some 5 to 8 s a test), in a transaction rolled back after the module. Each
    test runs inside it in a savepoint of its own (pytest-django's `db`), so what a test
    writes is gone before the next one."""
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo")
        seed_history()
        yield
        transaction.set_rollback(True)


def test_history_fills_a_month_next_to_the_live_demo_people(db):
    call_command("seed_demo")
    assert seed_people() == 12  # the live people the worker onboards
    requestables()
    live = set(Identity.objects.values_list("pk", flat=True))
    live_jobs = set(Job.objects.values_list("pk", flat=True))
    made = seed_history()
    assert set(made) == {"contoso", "fabrikam", "northwind"}

    for tenant in Tenant.objects.all():
        people = Identity.objects.filter(tenant=tenant).exclude(pk__in=live)
        assert people.count() >= 20
        assert all(p.employee_id.startswith(EMPLOYEE_PREFIX) for p in people)
        assert all(p.username.endswith("@" + tenant.primary_domain) for p in people)
        jobs = Job.objects.filter(tenant=tenant).exclude(pk__in=live_jobs)
        assert not jobs.filter(status__in=SCHEDULED_OR_QUEUED).exists(), "history must not run"
        assert not jobs.filter(finished_at__gt=timezone.now()).exists()
        assert jobs.filter(created_at__lt=timezone.now() - timedelta(days=20)).exists()
        today = timezone.localdate()
        report = build_report(tenant, today - timedelta(days=30), today)
        assert len(report.joiners) >= 8 and len(report.leavers) >= 5 and report.movers
        assert report.failed_steps and report.retried_jobs and report.retried_steps
        assert (report.granted, report.denied, report.expired) == (3, 1, 1)
        assert report.job_times.median and report.request_times.p90
        assert not AccessRequest.objects.filter(tenant=tenant, status="pending").exists()
        actions = set(
            AuditEvent.objects.filter(tenant_id=tenant.pk).values_list("action", flat=True)
        )
        assert {"identity.onboard", "identity.offboard", "job.finish", "job.retry"} <= actions
        assert {"access.approve", "access.deny", "access.expired"} <= actions
    assert verify_all().ok


def test_running_it_twice_adds_nothing(seeded, db):
    counts = (Identity.objects.count(), Job.objects.count(), AuditEvent.objects.count())
    assert seed_history() == {}
    call_command("seed_demo_history")
    assert (Identity.objects.count(), Job.objects.count(), AuditEvent.objects.count()) == counts


def test_without_requestable_resources_it_files_no_requests_and_makes_none(seeded, db):
    assert not AccessRequest.objects.exists()
    assert not RequestableResource.objects.exists()  # `seed_demo_access` still makes its own


def test_a_history_person_was_onboarded_by_whom_the_trail_names(seeded, db):
    """The person page's "Onboarded by" and the trail's identity.onboard agree (the page
    showed "–" beside an audit event by Taylor Brooks)."""
    onboarded = AuditEvent.objects.filter(action="identity.onboard", actor_username="tech")
    assert onboarded.count() >= 8
    for event in onboarded:
        person = Identity.objects.get(pk=event.target_id)
        assert person.employee_id.startswith(EMPLOYEE_PREFIX)
        assert person.created_by_id == event.actor_user_id is not None
    before = Identity.objects.filter(employee_id__startswith=EMPLOYEE_PREFIX).exclude(
        pk__in=[int(e.target_id) for e in onboarded]
    )
    assert before.exists() and not before.exclude(created_by=None).exists()  # joined earlier


def test_a_history_joiner_has_an_account_only_where_their_template_gives_one(seeded, db):
    """In a SCIM app only when the template gives the app, with its groups there: the engine's
    desired state (Contoso's Support joiners had a Slack account created in their history)."""
    joiners = Job.objects.filter(kind="join", identity__employee_id__startswith=EMPLOYEE_PREFIX)
    in_apps = set()
    for job in joiners.select_related("tenant"):
        [template] = job.identity.role_templates.all()
        given = {
            c.pk: template.scim_groups_for(c.pk) if c.assigned_by_template else template.groups
            for c in job.tenant.connections.all()
        }
        given = {pk: groups for pk, groups in given.items() if groups is not None}
        steps = list(job.steps.values_list("connection_id", "action", "target_name"))
        created = sorted(pk for pk, action, _ in steps if action == "create_user")
        assert created == sorted(given), (template.name, steps)
        for pk, groups in given.items():
            added = [name for c, action, name in steps if c == pk and action == "add_group"]
            assert added == groups, (template.name, steps)
        in_apps |= {(c.kind, c.pk in given) for c in job.tenant.connections.all()}
    assert {("scim", True), ("scim", False)} <= in_apps  # some joiners get an app, some not


def test_a_history_leavers_page_shows_what_the_leave_removed(seeded, db, client):
    """The person page reads what a leave removed from its steps' params (engine/offboarding):
    the history's steps carried none, and every leaver's page was a 500 (KeyError 'group_id')."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    client.force_login(get_user_model().objects.get(username="admin"))
    leavers = Job.objects.filter(kind="leave", identity__employee_id__startswith=EMPLOYEE_PREFIX)
    assert leavers.filter(steps__action="remove_group").exists()
    for job in leavers.select_related("identity__tenant")[:6]:
        person = job.identity
        url = reverse(
            "identity_detail", kwargs={"tenant": person.tenant.slug, "identity_id": person.pk}
        )
        response = client.get(url)
        assert response.status_code == 200, (url, job.pk)


def test_every_finished_history_job_was_read_back_as_the_engines_are(seeded, db, client):
    """Every succeeded history job read "Read back –" in the client report and "Finished
    before the engine read every directory back (an older job)" on its page: in a demo whose
    point is that the portal never says done before the directory shows it. Each now has
    the read-back the engine writes (an Okta account is in Everyone, told why), and a job
    that did not succeed has none."""
    from django.contrib.auth import get_user_model
    from django.urls import reverse

    history = Job.objects.filter(identity__employee_id__startswith=EMPLOYEE_PREFIX)
    done = history.filter(status="succeeded")
    assert done.exists() and not done.filter(verification={}).exists()
    assert not history.exclude(status="succeeded").exclude(verification={}).exists()
    leave = done.filter(kind="leave", tenant__slug="fabrikam").first()
    okta = leave.verification["directories"][str(leave.tenant.connections.get(kind="okta").pk)]
    assert okta["enabled"] is False and okta["groups"] == 1 and okta["apps"] == 0
    assert okta["by_rule"] == ["“Everyone” is built in: the directory holds everyone in it."]
    fabrikam = Tenant.objects.get(slug="fabrikam")
    today = timezone.localdate()
    report = build_report(fabrikam, today - timedelta(days=31), today)
    assert report.people and not report.people_not_read_back
    client.force_login(get_user_model().objects.get(username="admin"))
    body = client.get(reverse("job_detail", kwargs={"job_id": leave.pk})).content.decode()
    assert "an older job" not in body and "every directory equals" in body
