"""The read endpoints: people, directory accounts, jobs, client reports, the audit trail.
Every role of a tenant sees its own rows; another tenant's are 404 and never listed; bad
filter values are 4xx problems."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.inventory.models import Account, Person
from provisioning.models import DirectoryAccount, Identity, Job

pytestmark = pytest.mark.django_db

ROLES = [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]


def observed_accounts(world):
    """The managed person's Entra account and an unmatched, disabled Okta account."""
    person = Person.objects.get(identity=world.identity)  # matching.py keeps one per identity
    mine = Account.objects.create(
        connection=world.connection,
        tenant=world.tenant,
        remote_id=f"entra-{world.tenant.slug}",
        username=world.identity.username,
        display_name=world.identity.display_name,
        person=person,
    )
    stray = Account.objects.create(
        connection=world.okta_connection,
        tenant=world.tenant,
        remote_id=f"okta-{world.tenant.slug}",
        username=f"stray@{world.tenant.primary_domain}",
        display_name="Stray Account",
        enabled=False,
    )
    return mine, stray


def assert_problem(response, *statuses):
    assert response.status_code in statuses, response.content
    assert response["Content-Type"] == "application/problem+json"


# -- people ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lists_its_tenants_people_only(alpha, bravo, api_as, role):
    body = api_as(alpha.people[role]).get("/api/v1/people").json()
    assert [p["id"] for p in body["items"]] == [alpha.identity.pk]


@pytest.mark.parametrize("role", ROLES)
def test_another_tenants_person_is_404(alpha, bravo, api_as, role):
    client = api_as(alpha.people[role])
    for path in (
        f"/api/v1/people/{bravo.identity.pk}",
        f"/api/v1/people/{bravo.identity.pk}/accounts",
    ):
        assert_problem(client.get(path), 404)


def test_a_person_shows_names_templates_directory_ids_and_the_portal_link(alpha, api_as):
    alpha.identity.attributes = {"department": "Sales", "secret_note": "do-not-show"}
    alpha.identity.save()
    DirectoryAccount.objects.create(
        identity=alpha.identity, connection=alpha.connection, remote_id="entra-object-1"
    )
    body = api_as(alpha.client_admin).get(f"/api/v1/people/{alpha.identity.pk}").json()
    assert body["display_name"] == alpha.identity.display_name
    assert body["status"] == "joiner" and body["tenant"] == "alpha"
    assert body["role_templates"] == [{"id": alpha.template.pk, "name": alpha.template.name}]
    assert body["attributes"] == {"department": "Sales"}
    assert body["directory_ids"][0]["directory_id"] == "entra-object-1"
    assert body["url"] == settings.PORTAL_URL + reverse(
        "identity_detail", kwargs={"tenant": "alpha", "identity_id": alpha.identity.pk}
    )


def test_people_filters(alpha, bravo, msp_admin, api_as):
    other = Identity.objects.create(
        tenant=alpha.tenant,
        first_name="Quinn",
        last_name="Other",
        display_name="Quinn Other",
        username="quinn@alpha.test",
        email="quinn@alpha.test",
        status=Identity.Status.ACTIVE,
        attributes={"department": "Finance"},
    )
    client = api_as(msp_admin)

    def ids(**params):
        return {p["id"] for p in client.get("/api/v1/people", **params).json()["items"]}

    assert ids(tenant="alpha") == {alpha.identity.pk, other.pk}
    assert ids(status="active") == {other.pk}
    assert ids(q="QUINN", tenant="alpha") == {other.pk}
    assert ids(department="finance") == {other.pk}
    assert ids(role_template=alpha.template.pk) == {alpha.identity.pk}
    Identity.objects.filter(pk=other.pk).update(updated_at=timezone.now() - timedelta(days=9))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert other.pk not in ids(updated_since=since)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "retired"},
        {"q": "a\x00b"},
        {"q": "x" * 101},
        {"department": "\x1b[31m"},
        {"role_template": 0},
        {"role_template": 2**40},
        {"updated_since": "yesterday"},
        {"tenant": "../etc"},
    ],
)
def test_bad_people_filters_are_4xx_problems(alpha, api_as, params):
    assert_problem(api_as(alpha.technician).get("/api/v1/people", **params), 400, 422)


def test_a_tenant_filter_of_another_tenant_is_404(alpha, bravo, api_as):
    client = api_as(alpha.technician)
    assert_problem(client.get("/api/v1/people", tenant="bravo"), 404)
    assert_problem(client.get("/api/v1/jobs", tenant="bravo"), 404)


@pytest.mark.parametrize("path", ["/api/v1/people/0", "/api/v1/people/99999999999999"])
def test_an_id_out_of_range_is_a_4xx_problem(alpha, api_as, path):
    assert_problem(api_as(alpha.technician).get(path), 404, 422)


# -- directory accounts --------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_a_persons_accounts_as_the_inventory_saw_them(alpha, bravo, api_as, role):
    mine, _stray = observed_accounts(alpha)
    observed_accounts(bravo)
    body = api_as(alpha.people[role]).get(f"/api/v1/people/{alpha.identity.pk}/accounts").json()
    assert [a["directory_id"] for a in body["items"]] == [mine.remote_id]
    assert body["items"][0]["connection"] == "Microsoft Entra ID"
    assert body["items"][0]["enabled"] is True and body["items"][0]["last_seen"]


def test_a_tenants_accounts_with_filters(alpha, bravo, api_as):
    mine, stray = observed_accounts(alpha)
    observed_accounts(bravo)
    client = api_as(alpha.account_manager)

    def ids(**params):
        response = client.get("/api/v1/tenants/alpha/accounts", **params)
        return {a["directory_id"] for a in response.json()["items"]}

    assert ids() == {mine.remote_id, stray.remote_id}
    assert ids(connection=alpha.okta_connection.pk) == {stray.remote_id}
    assert ids(matched="true") == {mine.remote_id}
    assert ids(matched="false") == {stray.remote_id}
    assert ids(enabled="false") == {stray.remote_id}
    assert ids(q="STRAY") == {stray.remote_id}
    assert_problem(client.get("/api/v1/tenants/bravo/accounts"), 404)
    assert_problem(client.get("/api/v1/tenants/alpha/accounts", enabled="maybe"), 422)
    assert_problem(client.get("/api/v1/tenants/alpha/accounts", q="\x00"), 422)


# -- jobs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_lists_its_tenants_jobs_only(alpha, bravo, api_as, role):
    body = api_as(alpha.people[role]).get("/api/v1/jobs").json()
    assert [j["id"] for j in body["items"]] == [alpha.job.pk]
    assert_problem(api_as(alpha.people[role]).get(f"/api/v1/jobs/{bravo.job.pk}"), 404)


def test_a_job_shows_its_steps_and_links(alpha, api_as):
    body = api_as(alpha.client_admin).get(reverse("api_v1:job", args=[alpha.job.pk])).json()
    assert body["status"] == "failed" and body["person_id"] == alpha.identity.pk
    (step,) = body["steps"]
    assert step["action"] == "create_user" and step["status"] == "failed"
    assert step["message"] == "Insufficient privileges to complete the operation."
    assert body["url"] == settings.PORTAL_URL + reverse("job_detail", args=[alpha.job.pk])
    assert body["api_url"] == f"{settings.PORTAL_URL}/api/v1/jobs/{alpha.job.pk}"


def test_job_filters(alpha, msp_admin, bravo, api_as):
    done = Job.objects.create(tenant=alpha.tenant, kind=Job.Kind.LEAVE, status=Job.Status.SUCCEEDED)
    Job.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(days=5))
    client = api_as(msp_admin)

    def ids(**params):
        return {j["id"] for j in client.get("/api/v1/jobs", **params).json()["items"]}

    assert ids(tenant="alpha") == {alpha.job.pk, done.pk}
    assert ids(status="succeeded") == {done.pk}
    assert ids(kind="join", tenant="alpha") == {alpha.job.pk}
    assert ids(person=alpha.identity.pk) == {alpha.job.pk}
    day_ago = (timezone.now() - timedelta(days=1)).isoformat()
    assert done.pk not in ids(created_since=day_ago)
    assert ids(created_until=day_ago) == {done.pk}


@pytest.mark.parametrize(
    "params",
    [{"status": "exploded"}, {"kind": "x"}, {"person": -1}, {"created_since": "\x00"}],
)
def test_bad_job_filters_are_4xx_problems(alpha, api_as, params):
    assert_problem(api_as(alpha.technician).get("/api/v1/jobs", **params), 400, 422)


# -- client reports ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_its_tenants_report_as_json_and_csv(alpha, bravo, api_as, role):
    client = api_as(alpha.people[role])
    body = client.get("/api/v1/tenants/alpha/report", period="last_month").json()
    assert body["tenant"] == "alpha" and body["start"] < body["end"]
    response = client.get("/api/v1/tenants/alpha/report.csv", period="this_month")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "alpha-provisioning-" in response["Content-Disposition"]
    assert_problem(client.get("/api/v1/tenants/bravo/report"), 404)
    assert_problem(client.get("/api/v1/tenants/bravo/report.csv"), 404)


def test_the_report_counts_the_failed_job(alpha, api_as):
    Job.objects.filter(pk=alpha.job.pk).update(finished_at=timezone.now())
    body = api_as(alpha.technician).get("/api/v1/tenants/alpha/report").json()
    assert [j["id"] for j in body["failed_jobs"]] == [alpha.job.pk]


def test_a_csv_report_export_is_audited_with_the_tokens_name(alpha, api_as):
    from portal.audit.models import AuditEvent

    api_as(alpha.technician, name="HaloPSA").get("/api/v1/tenants/alpha/report.csv")
    event = AuditEvent.objects.get(action="report.export")
    assert event.tenant_id == alpha.tenant.pk and event.actor_username == "tech-alpha"


@pytest.mark.parametrize(
    "params",
    [
        {"period": "forever"},
        {"period": "custom"},
        {"period": "custom", "start": "2026-02-01", "end": "2026-01-01"},
        {"period": "custom", "start": "2000-01-01", "end": "2026-01-01"},
        {"start": "nope"},
    ],
)
def test_a_bad_period_is_a_4xx_problem(alpha, api_as, params):
    client = api_as(alpha.technician)
    assert_problem(client.get("/api/v1/tenants/alpha/report", **params), 400, 422)
    assert_problem(client.get("/api/v1/tenants/alpha/report.csv", **params), 400, 422)


# -- audit events --------------------------------------------------------------------------


def audit_world(alpha, bravo, msp_admin):
    record("job.retry", actor=alpha.technician, tenant=alpha.tenant, target=("job", 1, "Alpha job"))
    record("directory.read", actor="system", tenant=alpha.tenant, target=("conn", 2, "Entra"))
    record("job.retry", actor=bravo.technician, tenant=bravo.tenant, target=("job", 3, "Bravo job"))
    record("settings.change", actor=msp_admin, target=("settings", 1, "MSP-wide setting"))


@pytest.mark.parametrize("role", ROLES)
def test_each_role_searches_its_tenants_audit_trail_only(alpha, bravo, msp_admin, api_as, role):
    audit_world(alpha, bravo, msp_admin)
    client = api_as(alpha.people[role])
    items = client.get("/api/v1/audit-events").json()["items"]
    made = [e for e in items if e["action"] == "api_token.create"]
    # A client admin's or account manager's token is on their tenant's trail; a technician's
    # for every tenant on the MSP-wide one.
    assert len(made) == (0 if role == Role.TECHNICIAN else 1)
    assert {e["target"] for e in items if e not in made} == {"Alpha job", "Entra"}
    assert {e["tenant"] for e in items} == {"alpha"}
    assert_problem(client.get("/api/v1/audit-events", tenant="bravo"), 404)
    assert_problem(client.get("/api/v1/audit-events", tenant="@msp"), 404)
    csv = b"".join(client.get("/api/v1/audit-events.csv").streaming_content).decode()
    assert "Alpha job" in csv and "Bravo job" not in csv and "MSP-wide" not in csv
    exported = AuditEvent.objects.get(action="audit.export")  # a copy taken is on the trail
    assert exported.actor_username == alpha.people[role].username
    assert exported.after == {"filters": {}, "via": "api"}


def test_an_msp_admin_reads_the_msp_wide_chain_unless_the_token_names_tenants(
    alpha, bravo, msp_admin, api_as
):
    audit_world(alpha, bravo, msp_admin)
    items = api_as(msp_admin).get("/api/v1/audit-events", tenant="@msp").json()["items"]
    assert "MSP-wide setting" in {e["target"] for e in items}
    narrowed = api_as(msp_admin, tenants=[bravo.tenant])
    assert_problem(narrowed.get("/api/v1/audit-events", tenant="@msp"), 404)
    items = narrowed.get("/api/v1/audit-events").json()["items"]
    # The narrowed token itself was made on Bravo's trail, the tenant it reaches.
    assert sorted(e["action"] for e in items) == ["api_token.create", "job.retry"]
    assert {e["target"] for e in items if e["action"] == "job.retry"} == {"Bravo job"}


def test_audit_filters(alpha, bravo, msp_admin, api_as):
    audit_world(alpha, bravo, msp_admin)
    client = api_as(msp_admin)

    def targets(**params):
        return {e["target"] for e in client.get("/api/v1/audit-events", **params).json()["items"]}

    assert targets(tenant="alpha", action="job") == {"Alpha job"}
    assert targets(action="directory.read") == {"Entra"}
    assert targets(actor="tech-bravo") == {"Bravo job"}
    assert targets(q="bravo") == {"Bravo job"}
    assert targets(target_type="settings") == {"MSP-wide setting"}
    assert targets(since=(timezone.now() + timedelta(minutes=1)).isoformat()) == set()
    assert "Entra" in targets(until=(timezone.now() + timedelta(minutes=1)).isoformat())


def test_an_audit_export_beyond_its_limit_is_refused_not_cut_short(
    alpha, bravo, msp_admin, api_as, monkeypatch
):
    """An auditor must never get a silently truncated trail that looks complete."""
    from reports import api as reports_api

    audit_world(alpha, bravo, msp_admin)
    monkeypatch.setattr(reports_api, "MAX_AUDIT_EXPORT_ROWS", 3)
    client = api_as(msp_admin)
    response = client.get("/api/v1/audit-events.csv")
    assert_problem(response, 400)
    assert "narrow" in response.json()["detail"]
    response = client.get("/api/v1/audit-events.csv", tenant="alpha")
    assert response["Content-Type"] == "text/csv; charset=utf-8; header=present"
    body = b"".join(response.streaming_content)
    assert body.decode("utf-8-sig").count("\r\n") == 3  # the header and both events


@pytest.mark.parametrize(
    "params",
    [
        {"action": "job retry"},
        {"actor": "\x00"},
        {"q": "x" * 101},
        {"since": "x"},
        {"result": "ok"},
    ],
)
def test_bad_audit_filters_are_4xx_problems(alpha, api_as, params):
    client = api_as(alpha.technician)
    assert_problem(client.get("/api/v1/audit-events", **params), 400, 422)
    assert_problem(client.get("/api/v1/audit-events.csv", **params), 400, 422)


def test_a_read_only_token_reads_everything(alpha, api_as):
    client = api_as(alpha.client_admin, read_only=True)
    for path in (
        "/api/v1/people",
        f"/api/v1/people/{alpha.identity.pk}",
        f"/api/v1/people/{alpha.identity.pk}/accounts",
        "/api/v1/tenants/alpha/accounts",
        "/api/v1/jobs",
        f"/api/v1/jobs/{alpha.job.pk}",
        "/api/v1/tenants/alpha/report",
        "/api/v1/tenants/alpha/report.csv",
        "/api/v1/audit-events",
        "/api/v1/audit-events.csv",
    ):
        assert client.get(path).status_code == 200, path


def test_the_report_lists_decided_access_requests(alpha, api_as):
    from provisioning.models import AccessRequest
    from tests.test_isolation_crawl import access_request_of

    filed = access_request_of(alpha)
    AccessRequest.objects.filter(pk=filed.pk).update(
        status=AccessRequest.Status.DENIED, decided_at=timezone.now(), decided_by=alpha.client_admin
    )
    body = api_as(alpha.account_manager).get("/api/v1/tenants/alpha/report").json()
    assert [(r["id"], r["status"]) for r in body["requests"]] == [(filed.pk, "Denied")]
    assert body["requests_received"] == 1
