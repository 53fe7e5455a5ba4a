"""The job page (live progress that stops when done, retry) and the Jobs list (filters, scope)."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import dateformat, timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from portal.templatetags import time_tags
from provisioning.models import Job, Step
from tests.factories import make_joiner
from tests.provisioning.test_running_step_counts import _running_with_two_done_and_one_skipped

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
READERS = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


def job_url(job) -> str:
    return reverse("job_detail", kwargs={"job_id": job.pk})


@pytest.mark.parametrize("role", READERS)
def test_every_role_of_the_tenant_reads_the_job_page(client, alpha, role):
    client.force_login(alpha.people[role])
    response = client.get(job_url(alpha.job))
    assert response.status_code == 200
    body = response.content.decode()
    assert alpha.identity.display_name in body
    assert "Insufficient privileges to complete the operation." in body  # the directory's words
    assert "Create user" in body and alpha.identity.username in body


def test_msp_admin_reads_any_job(client, alpha, msp_admin):
    client.force_login(msp_admin)
    assert client.get(job_url(alpha.job)).status_code == 200


@pytest.mark.parametrize("role", READERS)
def test_other_tenant_gets_404_for_the_job_and_its_retry(client, alpha, bravo, role):
    client.force_login(bravo.people[role])
    assert client.get(job_url(alpha.job)).status_code == 404
    assert client.get(job_url(alpha.job), **HX).status_code == 404
    retry = reverse("job_retry", kwargs={"job_id": alpha.job.pk})
    assert client.post(retry).status_code == 404
    alpha.job.refresh_from_db()
    assert alpha.job.status == Job.Status.FAILED


def test_polling_partial_has_a_trigger_while_running_and_none_when_done(client, alpha):
    client.force_login(alpha.technician)
    job = alpha.job
    job.status, job.started_at = Job.Status.RUNNING, timezone.now()
    job.save()
    running = client.get(job_url(job), **HX).content.decode()
    assert "<html" not in running and 'id="job-progress"' in running
    assert 'hx-trigger="every 1s"' in running and f'hx-get="{job_url(job)}"' in running
    page = client.get(job_url(job)).content.decode()
    assert 'hx-trigger="every 1s"' in page and "<html" in page

    job.status, job.finished_at = Job.Status.SUCCEEDED, timezone.now()
    job.save()
    done = client.get(job_url(job), **HX).content.decode()
    assert 'id="job-progress"' in done and "hx-trigger" not in done and "Succeeded" in done


def test_retry_button_for_operators_only(client, alpha, msp_admin):
    for person in (alpha.technician, msp_admin):
        client.force_login(person)
        assert "Retry failed steps" in client.get(job_url(alpha.job)).content.decode()
    for role in (Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN):
        client.force_login(alpha.people[role])
        assert "Retry failed steps" not in client.get(job_url(alpha.job)).content.decode()


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_read_only_roles_may_not_retry(client, alpha, role):
    client.force_login(alpha.people[role])
    before = AuditEvent.objects.count()
    assert client.post(reverse("job_retry", kwargs={"job_id": alpha.job.pk})).status_code == 403
    alpha.job.refresh_from_db()
    assert alpha.job.status == Job.Status.FAILED
    added = AuditEvent.objects.order_by("id")[before:]
    assert [event.action for event in added] == ["security.request_refused"]


def test_retry_puts_failed_steps_back_and_is_audited(client, alpha):
    client.force_login(alpha.technician)
    response = client.post(reverse("job_retry", kwargs={"job_id": alpha.job.pk}))
    assert response.status_code == 302 and response["Location"] == job_url(alpha.job)
    alpha.job.refresh_from_db()
    assert alpha.job.status == Job.Status.QUEUED
    assert alpha.job.steps.get().status == Step.Status.PENDING
    assert AuditEvent.objects.latest("id").action == "job.retry"
    # a job that did not fail is left alone
    assert "Retry failed steps" not in client.get(job_url(alpha.job)).content.decode()
    client.post(reverse("job_retry", kwargs={"job_id": alpha.job.pk}))
    assert AuditEvent.objects.filter(action="job.retry").count() == 1


# -- the list ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", READERS)
def test_list_shows_only_my_tenants_jobs(client, alpha, bravo, role):
    client.force_login(alpha.people[role])
    response = client.get(reverse("job_list"))
    assert response.status_code == 200
    body = response.content.decode()
    assert alpha.identity.display_name in body
    assert bravo.identity.display_name not in body and bravo.tenant.name not in body
    assert list(response.context["page"]) == [alpha.job]


def test_list_tenant_filter_offers_only_visible_tenants(client, alpha, bravo):
    client.force_login(alpha.technician)
    tenants = client.get(reverse("job_list")).context["filter"].form.fields["tenant"].queryset
    assert list(tenants) == [alpha.tenant]
    # asking for another tenant's jobs by slug is a form error, not a leak
    response = client.get(reverse("job_list"), {"tenant": bravo.tenant.slug})
    assert bravo.identity.display_name not in response.content.decode()


def test_msp_admin_filters_by_tenant_status_kind_and_date(client, alpha, bravo, msp_admin):
    second, second_job = make_joiner(alpha, "Sam", "Second")
    second_job.status = Job.Status.SUCCEEDED
    second_job.created_at = timezone.now() - timedelta(days=10)
    second_job.save()
    client.force_login(msp_admin)
    url = reverse("job_list")

    def listed(**params) -> list:
        return list(client.get(url, params).context["page"])

    assert listed() == [bravo.job, alpha.job, second_job]  # newest first
    assert set(listed(tenant=alpha.tenant.slug)) == {alpha.job, second_job}
    assert listed(tenant=alpha.tenant.slug, status="succeeded") == [second_job]
    assert listed(kind="leave") == []
    since = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert second_job not in listed(created_from=since)
    assert listed(created_to=(timezone.localdate() - timedelta(days=5)).isoformat()) == [second_job]
    partial = client.get(url, {"status": "failed"}, **HX).content.decode()
    assert "<html" not in partial and alpha.identity.display_name in partial


def test_list_is_paginated(client, alpha):
    for _ in range(30):
        Job.objects.create(tenant=alpha.tenant, kind=Job.Kind.RECONCILE)
    client.force_login(alpha.technician)
    first = client.get(reverse("job_list"))
    assert len(first.context["page"]) == 25 and "Older" in first.content.decode()
    second = client.get(reverse("job_list"), {"page": 2})
    assert len(second.context["page"]) == 6


def test_periodic_checks_that_found_nothing_are_hidden_unless_asked_for(client, alpha):
    def check(steps: int) -> Job:
        return Job.objects.create(
            tenant=alpha.tenant,
            identity=alpha.identity,
            kind=Job.Kind.RECONCILE,
            status=Job.Status.SUCCEEDED,
            steps_total=steps,
        )

    quiet, drift = check(0), check(2)
    client.force_login(alpha.people[Role.TECHNICIAN])

    def listed(**params) -> set[int]:
        body = client.get(reverse("job_list"), params).content.decode()
        return {job.pk for job in (quiet, drift, alpha.job) if job_url(job) in body}

    assert listed() == {drift.pk, alpha.job.pk}
    assert listed(checks="all") == {quiet.pk, drift.pk, alpha.job.pk}
    assert listed(kind="reconcile") == {quiet.pk, drift.pk}
    assert client.get(reverse("job_list"), {"checks": "bogus"}).status_code in (200, 400)


def test_the_read_back_time_is_told_in_the_same_zone_as_the_jobs_other_times(client, alpha):
    """Finished and read back are the same moment: one clock on the page, the tenant's own
    (as for what it schedules), named once under the title."""
    alpha.tenant.time_zone = "Europe/Berlin"
    alpha.tenant.save(update_fields=["time_zone"])
    job = alpha.job
    ended = timezone.now().replace(microsecond=0)
    job.status, job.started_at, job.finished_at = Job.Status.SUCCEEDED, ended, ended
    job.verification = {"read_at": ended.isoformat(), "desired_version": 1, "directories": {}}
    job.save()
    client.force_login(alpha.technician)
    body = client.get(job_url(job)).content.decode()
    berlin = ZoneInfo("Europe/Berlin")
    shown = dateformat.format(timezone.localtime(ended, berlin), "j M Y H:i:s")
    created = dateformat.format(timezone.localtime(job.created_at, berlin), "j M Y H:i:s")
    assert "Times in Europe/Berlin." in body
    assert f"<dt>Created</dt><dd>{created}</dd>" in body
    assert f"<dt>Finished</dt><dd>{shown}</dd>" in body
    assert f"Read back {shown}:" in body


def test_retry_asks_first_naming_the_job_the_person_and_the_tenant(client, alpha):
    client.force_login(alpha.technician)
    body = client.get(job_url(alpha.job)).content.decode()
    retry = reverse("job_retry", kwargs={"job_id": alpha.job.pk})
    form = body[body.index(f'action="{retry}"') :].split(">", 1)[0]
    name = alpha.identity.display_name.replace("'", "&#x27;")
    assert f'data-confirm="Retry the 1 failed step of {alpha.job} for {name} in' in form
    assert alpha.tenant.name in form


def test_the_read_back_says_what_a_directory_does_not_have_instead_of_zero(client, alpha):
    """A SCIM app has no licences, no apps and no admin roles; Okta no licences: their
    columns show "–", as a read of nothing, not "0", which reads as "all removed"."""
    from tenants.models import DirectoryConnection

    slack = DirectoryConnection.objects.create(tenant=alpha.tenant, kind="scim", name="Slack")
    job = alpha.job
    ended = timezone.now().replace(microsecond=0)
    job.status, job.started_at, job.finished_at = Job.Status.SUCCEEDED, ended, ended
    counts = {"enabled": True, "groups": 2, "licenses": 0, "apps": 0, "roles": 0}
    job.verification = {
        "read_at": ended.isoformat(),
        "desired_version": 1,
        "directories": {
            str(alpha.connection.pk): {"account": "e-1", **counts, "licenses": 1, "roles": None},
            str(alpha.okta_connection.pk): {"account": "o-1", **counts, "apps": 1},
            str(slack.pk): {"account": "s-1", **counts},
        },
    }
    job.save()
    client.force_login(alpha.technician)
    body = client.get(job_url(job)).content.decode()
    table = body[body.index('id="job-verification"') :]

    def cells(account: str) -> list[str]:
        row = table[table.index(account) :].split("</tr>")[0]
        numbers = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
        # Each cell names its column for a phone (a label hidden on a wider screen).
        numbers = [re.sub(r'<span class="cell-label">.*?</span>', "", cell) for cell in numbers]
        return [re.sub(r"<[^>]+>", "", cell).strip() for cell in numbers]

    # groups, licences, apps, admin roles and units
    assert cells("e-1") == ["2", "1", "0", "–"]  # roles not read by a join
    assert cells("o-1") == ["2", "–", "1", "–"]
    assert cells("s-1") == ["2", "–", "–", "–"]
    assert "Slack (SCIM) has no licences" in table


def test_a_licence_without_a_seat_among_other_failures_says_how_to_get_on(client, alpha):
    """Only every failed step a seat makes a job wait for a choice; beside another failure
    the job is partial, and Retry alone would fail the same way: the page says to free a
    seat or choose another licence, and links where each is done."""
    job = alpha.job
    Step.objects.create(
        job=job,
        connection=alpha.connection,
        order=2,
        action=Step.Action.ASSIGN_LICENSE,
        target_name="Microsoft 365 E3",
        status=Step.Status.FAILED,
        attempts=1,
        last_error="Subscription abc does not have any available licenses.",
        error_kind="no_seat",
    )
    Job.objects.filter(pk=job.pk).update(status=Job.Status.PARTIAL, steps_total=2, steps_failed=2)
    client.force_login(alpha.technician)
    body = client.get(job_url(job)).content.decode()
    assert 'id="no-seat-help"' in body
    help_text = body[body.index('id="no-seat-help"') :].split("</p>", 1)[0]
    assert "Microsoft 365 E3 found no free seat" in help_text
    tenant, person = alpha.tenant.slug, alpha.identity.pk
    change = reverse("identity_change", kwargs={"tenant": tenant, "identity_id": person})
    assert f'href="{change}"' in help_text
    assert f'href="{reverse("stale_report", kwargs={"tenant": tenant})}"' in help_text

    Step.objects.filter(job=job, order=2).delete()  # no seat problem: no such help
    assert 'id="no-seat-help"' not in client.get(job_url(job)).content.decode()


def test_the_list_names_the_zone_of_its_created_times(client, alpha, bravo, msp_admin):
    """The list spans tenants in different zones: its Created column and its date filter are
    in the portal's zone (UTC), and the page says so, as the audit trail does. (One
    tenant's list is in its zone: test_job_list_zone.py.)"""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    client.force_login(msp_admin)
    body = client.get(reverse("job_list")).content.decode()
    utc = timezone.localtime(alpha.job.created_at, ZoneInfo("UTC"))
    shown = dateformat.format(utc, "j M Y H:i")
    assert "<th>Created (UTC)</th>" in body
    assert f'<span class="cell-label">Created </span>{shown}</td>' in body
    assert "Times and dates in UTC." in body


def test_a_joiner_created_ahead_has_their_blocked_sign_in_explained(client, alpha):
    """A join before the start date creates the accounts with sign-in blocked, and a job
    scheduled for the first day allows it: the read-back's "blocked" says so, with when and
    which job, instead of reading as a failed join."""
    alpha.tenant.time_zone = "Europe/Berlin"
    alpha.tenant.save(update_fields=["time_zone"])
    job = alpha.job
    ended = timezone.now().replace(microsecond=0)
    job.status, job.started_at, job.finished_at = Job.Status.SUCCEEDED, ended, ended
    counts = {"groups": 1, "licenses": 1, "apps": 1, "roles": None}
    job.verification = {
        "read_at": ended.isoformat(),
        "desired_version": 1,
        "directories": {str(alpha.connection.pk): {"account": "e-1", "enabled": False, **counts}},
    }
    job.save()
    first_day = (ended + timedelta(days=8)).replace(hour=23, minute=0, second=0)
    enable = Job.objects.create(
        tenant=alpha.tenant,
        identity=job.identity,
        kind=Job.Kind.CHANGE,
        status=Job.Status.SCHEDULED,
        not_before=first_day,
        options={"enable": True},
    )
    client.force_login(alpha.technician)
    body = client.get(job_url(job)).content.decode()
    table = body[body.index('id="job-verification"') :]
    local = timezone.localtime(first_day, ZoneInfo("Europe/Berlin"))
    assert "blocked until the start" in table
    note = re.sub(r"<[^>]+>", "", table[table.index('id="job-blocked-until"') :].split("</p>")[0])
    assert time_tags.when(local) in note  # the house rule, in the tenant's zone
    assert f"job #{enable.pk}" in note
    assert reverse("job_detail", kwargs={"job_id": enable.pk}) in table


def test_a_leavers_blocked_sign_in_has_no_start_date_note(client, alpha):
    """Only a join waits for a start: a leave's "blocked" is the point of the job."""
    job = alpha.job
    ended = timezone.now().replace(microsecond=0)
    job.kind, job.status, job.finished_at = Job.Kind.LEAVE, Job.Status.SUCCEEDED, ended
    job.verification = {
        "read_at": ended.isoformat(),
        "desired_version": 2,
        "directories": {
            str(alpha.connection.pk): {
                "account": "e-1", "enabled": False, "groups": 0, "licenses": 0, "apps": 0,
                "roles": 0,
            }
        },
    }  # fmt: skip
    job.save()
    client.force_login(alpha.technician)
    body = client.get(job_url(job)).content.decode()
    assert "job-blocked-until" not in body and "until the start" not in body


def test_an_okta_leave_step_says_suspend_or_deactivate_as_the_dry_run_did(client, alpha):
    """The offboarding's dry run said "Suspend maren.holt@… (keeps app assignments)"; the
    job's step for it read "Block sign-in", so the page did not say which had been done."""
    job = alpha.job
    job.kind = Job.Kind.LEAVE
    job.save(update_fields=["kind"])
    common = {"job": job, "connection": alpha.connection, "action": Step.Action.DISABLE_USER}
    Step.objects.create(order=11, target_name="ada@x", params={"mode": "suspend"}, **common)
    Step.objects.create(order=12, target_name="bob@x", params={"mode": "deactivate"}, **common)
    Step.objects.create(order=13, target_name="cy@x", params={}, **common)  # Entra, SCIM
    client.force_login(alpha.technician)
    body = client.get(job_url(job)).content.decode()
    assert "Suspend (keeps app assignments) <strong>ada@x</strong>" in body
    assert "Deactivate (drops app assignments) <strong>bob@x</strong>" in body
    assert "Block sign-in <strong>cy@x</strong>" in body


def test_a_job_worked_on_in_several_runs_says_why(client, alpha):
    """A bare "Runs 3" read as a job done three times over: the page says the engine came
    back to it after waiting (the directory's rate, a retry, replication)."""
    client.force_login(alpha.technician)
    job = alpha.job
    job.runs = 3
    job.save(update_fields=["runs"])
    body = client.get(job_url(job)).content.decode()
    runs = body[body.index("<dt>Runs</dt>") :].split("</dd>")[0]
    assert "3" in runs and "waiting" in runs and "rate" in runs
    job.runs = 1
    job.save(update_fields=["runs"])
    assert "<dt>Runs</dt>" not in client.get(job_url(job)).content.decode()


def test_the_list_says_the_system_for_a_job_nobody_asked_for(client, alpha):
    """The jobs list's By read "system" where the job page says "the system"."""
    alpha.job.requested_by = None
    alpha.job.save(update_fields=["requested_by"])
    client.force_login(alpha.technician)
    body = client.get(reverse("job_list")).content.decode()
    assert '<span class="cell-label">By </span>the system</td>' in body
    assert '<span class="cell-label">By </span>system</td>' not in body


def test_the_list_names_who_asked_as_the_job_page_does(client, alpha):
    """The list's By column read the login ("tech") where the job page says "Taylor Brooks"."""
    asker = alpha.technician
    asker.first_name, asker.last_name = "Taylor", "Brooks"
    asker.save(update_fields=["first_name", "last_name"])
    alpha.job.requested_by = asker
    alpha.job.save(update_fields=["requested_by"])
    client.force_login(alpha.technician)
    body = client.get(reverse("job_list")).content.decode()
    assert '<span class="cell-label">By </span>Taylor Brooks</td>' in body
    assert f'<span class="cell-label">By </span>{asker.username}</td>' not in body


def _stat(page: str, label: str) -> str:
    """The figure of the job page's stat card named `label` ("Steps done", "Steps failed")."""
    found = re.search(rf'<div class="n[^"]*">([^<]*)</div><div class="l">{label}</div>', page)
    assert found, f"no {label} card"
    return found.group(1).strip()


def test_a_running_jobs_step_counts_follow_its_steps_as_they_end(client, alpha):
    """newcomer24: the page said "0 / 9 Steps done · updates live" beside seven steps reading
    Succeeded: the job's counts are written when it ends, so a running job's come from its
    steps (a skipped step counts as failed, as the end's count does)."""
    client.force_login(alpha.technician)
    job = _running_with_two_done_and_one_skipped(alpha.job)
    for page in (client.get(job_url(job)), client.get(job_url(job), **HX)):
        body = page.content.decode()
        assert _stat(body, "Steps done") == "2 / 4"
        assert _stat(body, "Steps failed") == "1"

    # Once done, the counts the job ended with stand (its steps may span earlier rounds).
    job.status, job.finished_at = Job.Status.PARTIAL, timezone.now()
    job.steps_done, job.steps_failed = 2, 2
    job.save()
    assert _stat(client.get(job_url(job)).content.decode(), "Steps failed") == "2"
