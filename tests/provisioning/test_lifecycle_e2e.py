"""Leavers, movers and rehires end to end: services, a real worker, the real SDKs, the sandbox."""

import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning import services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tenants import clock
from tenants.models import RoleTemplate, Tenant
from tests.provisioning.conftest import lease_runs_out, wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)

ENTRA_FIXED = {"accountEnabled", "signInSessionsValidFromDateTime", "lastPasswordChangeDateTime"}


@pytest.fixture
def demo_tenants(on_sandbox):
    """The demo tenants, connected to the demo directories the test sandbox is seeded with."""
    call_command("seed_demo", verbosity=0)
    return {t.slug: t for t in Tenant.objects.all()}


def onboard(tenant, first, last, templates) -> Identity:
    request = services.OnboardingRequest(first, last, list(templates))
    username = services.suggest_username(tenant, request)
    job = services.request_onboarding(tenant, request, username=username, actor="system")
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("action", "last_error"))
    return job.identity


def offboard(identity, **options) -> Job:
    chosen = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    for name, value in options.items():
        setattr(chosen, name, value)
    job = lifecycle.request_offboarding(identity, chosen, actor="system")
    return wait_for_job(job.pk)


def entra_user(state: dict, upn: str) -> dict:
    return next(u for u in state["users"] if u["userPrincipalName"] == upn)


def okta_access(state: dict, login: str) -> tuple[dict, set, set]:
    user = next(u for u in state["users"] if u["profile"]["login"] == login)
    groups = {
        g["name"]
        for g in state["groups"]
        if user["id"] in g["members"] and g["type"] != "BUILT_IN"  # Everyone: Okta's to fill
    }
    apps = {a["label"] for a in state["apps"] if user["id"] in a["user_ids"]}
    return user, groups, apps


def control_state(server, kind: str, ident: str) -> dict:
    with server.control() as control:
        return control.get(f"/_sandbox/{kind}/{ident}/state").raise_for_status().json()


def dynamic_groups(state: dict) -> set:
    return {g["displayName"] for g in state["groups"] if g.get("membershipRule")}


@pytest.mark.parametrize("slug", ["contoso", "fabrikam", "northwind"])
def test_offboarding_in_each_demo_tenant_leaves_nothing(demo_tenants, sandbox_server, worker, slug):
    from tenants.demo import SANDBOX_ENTRA, SANDBOX_OKTA

    tenant = demo_tenants[slug]
    role = {"contoso": "Support", "fabrikam": "Sales", "northwind": "Operations"}[slug]
    template = tenant.role_templates.get(name=role)  # roles whose licences have free seats
    identity = onboard(tenant, "Lena", f"Leaver{slug.title()}", [template])
    job = offboard(identity)
    steps = list(job.steps.values_list("action", "target_name", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps
    upn = identity.username
    if slug in SANDBOX_ENTRA:
        state = control_state(sandbox_server, "entra", SANDBOX_ENTRA[slug]["directory_id"])
        user = entra_user(state, upn)
        assert user["accountEnabled"] is False
        assert user["signInSessionsValidFromDateTime"] and user["lastPasswordChangeDateTime"]
        assert user["licenses"] == [] and user["appRoleAssignments"] == []
        assert set(user["groups"]) <= dynamic_groups(state)  # rule-based ones follow attributes
    if slug in SANDBOX_OKTA:
        state = control_state(sandbox_server, "okta", SANDBOX_OKTA[slug]["org"])
        user, groups, apps = okta_access(state, upn)
        assert user["status"] == "SUSPENDED"
        assert groups == set() and apps == set()
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    deletion = identity.jobs.get(kind=Job.Kind.DELETE)
    assert deletion.status == Job.Status.SCHEDULED
    assert (deletion.not_before - timezone.now()).days in (29, 30)
    events = AuditEvent.objects.filter(job_id=job.pk, action__startswith="directory.")
    assert events.count() == job.steps.count() == job.steps_total > 0
    assert set(events.values_list("result", flat=True)) == {"success"}


def sales_and_support(dirs):
    sales = dirs.template
    support = RoleTemplate.objects.create(
        tenant=dirs.tenant,
        name="Support",
        groups=["Staff", "VPN Users"],
        licenses=["EMS"],
        apps=["Slack"],
        department="Support",
    )
    return sales, support


def test_mover_changes_exactly_the_difference(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mover")
    sales, support = sales_and_support(dirs)
    identity = onboard(dirs.tenant, "Max", "Mover", [sales])
    upn = identity.username
    preview = lifecycle.preview_change(identity, lifecycle.ChangeRequest([support]))
    planned = {(s.action, s.target_name) for _, plan, _ in preview.plans for s in plan.steps}
    job = lifecycle.request_change(identity, lifecycle.ChangeRequest([support]), actor="system")
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED
    done = {(s.action, s.target_name) for s in job.steps.all()}
    assert done == planned
    expected = {
        ("set_licenses", "add EMS; remove SPE_E3"),  # one assignLicense: all or nothing
        ("add_group", "VPN Users"),
        ("assign_app", "Slack"),
        ("remove_group", "Sales"),
        ("unassign_app", "Salesforce"),
    }
    assert {d for d in done if d[0] != "update_user"} == expected  # "Staff" stays untouched
    user = dirs.entra_user(upn)
    assert user["department"] == "Support"
    assert user["licenses"] == ["EMS"]
    assert sorted(user["groups"]) == ["Staff", "VPN Users"]
    assert [a["app"] for a in user["appRoleAssignments"]] == ["Slack"]


def test_scheduled_leave_happens_at_its_time_and_not_before(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "later", kinds=("entra", "okta"))
    identity = onboard(dirs.tenant, "Tess", "Later", [dirs.template])
    leave_at = timezone.now() + timezone.timedelta(days=2)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    job = lifecycle.request_offboarding(identity, options, actor="system", at=leave_at)
    assert job.status == Job.Status.SCHEDULED
    assert lifecycle.start_due_jobs(now=leave_at - timezone.timedelta(minutes=1)) == 0
    time.sleep(1.5)
    job.refresh_from_db()
    assert job.status == Job.Status.SCHEDULED and not job.steps.exists()
    assert dirs.entra_user(identity.username)["accountEnabled"] is True
    assert dirs.okta_user(identity.username)["status"] == "ACTIVE"
    assert lifecycle.start_due_jobs(now=leave_at + timezone.timedelta(seconds=1)) == 1
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED
    user = dirs.entra_user(identity.username)
    assert user["accountEnabled"] is False and user["groups"] == ["Sales (dynamic)"]
    assert dirs.okta_user(identity.username)["status"] == "SUSPENDED"


def test_rehire_within_grace_restores_the_recorded_state_exactly(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "rehire", kinds=("entra", "okta"))
    identity = onboard(dirs.tenant, "Rhea", "Hire", [dirs.template])
    upn = identity.username
    before_entra = dirs.entra_user(upn)
    before_okta = okta_access(dirs.okta_state(), upn)
    job = offboard(identity, okta_mode="deactivate")
    assert job.status == Job.Status.SUCCEEDED
    assert dirs.okta_user(upn)["status"] == "DEPROVISIONED"
    identity.refresh_from_db()
    restore = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert restore.status == Job.Status.SUCCEEDED, list(restore.steps.values_list("last_error"))
    after_entra = dirs.entra_user(upn)
    for key in ("accountEnabled", "licenses", "department", "jobTitle"):
        assert after_entra[key] == before_entra[key], key
    assert sorted(after_entra["groups"]) == sorted(before_entra["groups"])
    assert [a["app"] for a in after_entra["appRoleAssignments"]] == ["Salesforce"]
    user, groups, apps = okta_access(dirs.okta_state(), upn)
    assert user["status"] == "ACTIVE"
    assert (groups, apps) == before_okta[1:]
    identity.refresh_from_db()
    assert identity.status == Identity.Status.ACTIVE
    assert identity.jobs.get(kind=Job.Kind.DELETE).status == Job.Status.CANCELLED


def test_after_the_hard_delete_a_rehire_is_a_new_join_of_the_same_person(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "purged", kinds=("entra", "okta"))
    identity = onboard(dirs.tenant, "Pam", "Purged", [dirs.template])
    upn = identity.username
    assert offboard(identity, delete_after_days=0).status == Job.Status.SUCCEEDED
    deletion = identity.jobs.get(kind=Job.Kind.DELETE)
    lifecycle.start_due_jobs(now=timezone.now() + timezone.timedelta(seconds=1))
    deletion = wait_for_job(deletion.pk)
    assert deletion.status == Job.Status.SUCCEEDED, list(deletion.steps.values_list("last_error"))
    assert dirs.entra_user(upn) is None and dirs.okta_user(upn) is None
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED
    rejoin = wait_for_job(lifecycle.request_restore(identity, actor="system").pk)
    assert rejoin.kind == Job.Kind.JOIN and rejoin.status == Job.Status.SUCCEEDED
    assert dirs.entra_user(upn)["accountEnabled"] is True
    assert identity.jobs.count() == 4  # join, leave, delete, join again: one history


def test_killed_worker_mid_offboarding_resumes_without_error(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "killoff")
    identity = onboard(dirs.tenant, "Kim", "Killed", [dirs.template])
    dirs.behave("entra", latency_ms=400)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    job = lifecycle.request_offboarding(identity, options, actor="system")
    deadline = time.monotonic() + 30
    while not Step.objects.filter(job=job, status="succeeded").exists():
        assert time.monotonic() < deadline, "no offboarding step finished"
        time.sleep(0.05)
    worker.kill()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING
    lease_runs_out(job)
    dirs.behave("entra", latency_ms=0)
    worker.start()
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED and job.runs >= 2
    user = dirs.entra_user(identity.username)
    assert user["accountEnabled"] is False and user["licenses"] == []


def test_scheduled_leavers_over_the_limit_are_held_until_confirmed(on_sandbox, worker, msp_admin):
    dirs = make_directories(on_sandbox, "breaker")
    dirs.tenant.offboard_hold_count = 1
    dirs.tenant.save()
    people = [onboard(dirs.tenant, f"Bree{n}", "Breaker", [dirs.template]) for n in range(2)]
    at = timezone.now() + timezone.timedelta(hours=1)
    options = lifecycle.OffboardingOptions(delete_after_days=None)
    jobs = [lifecycle.request_offboarding(p, options, actor="system", at=at) for p in people]
    assert lifecycle.start_due_jobs(now=at) == 0
    held = Job.objects.filter(pk__in=[j.pk for j in jobs])
    assert set(held.values_list("status", flat=True)) == {Job.Status.HELD}
    batch = held.first().batch
    assert "needs an MSP admin" in batch.hold_reason
    assert all(dirs.entra_user(p.username)["accountEnabled"] for p in people)
    assert lifecycle.confirm_batch(batch, actor=msp_admin) == 2
    for job in jobs:
        assert wait_for_job(job.pk).status == Job.Status.SUCCEEDED
    assert not any(dirs.entra_user(p.username)["accountEnabled"] for p in people)


def test_conflict_on_create_links_when_the_tenant_allows_it(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "linkany")
    upn = "ada.lovelace@linkany.example"
    dirs.add_entra_user(upn, "Adelaide", "Somebody")
    dirs.tenant.link_existing_accounts = True
    dirs.tenant.save()
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    job = wait_for_job(job.pk)
    actions = list(job.steps.values_list("action", flat=True))
    assert job.status == Job.Status.SUCCEEDED and "link_user" in actions
    assert "create_user" not in actions and "update_user" in actions
    user = dirs.entra_user(upn)
    assert user["givenName"] == "Ada" and user["licenses"] == ["SPE_E3"]


def test_a_joiner_created_ahead_is_enabled_on_the_start_date(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "ahead", kinds=("entra", "okta"))
    start = clock.tenant_today(dirs.tenant) + timezone.timedelta(days=3)
    request = services.OnboardingRequest("Fay", "Future", [dirs.template], start_date=start)
    username = services.suggest_username(dirs.tenant, request)
    job = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    assert wait_for_job(job.pk).status == Job.Status.SUCCEEDED
    assert dirs.entra_user(username)["accountEnabled"] is False
    assert dirs.okta_user(username)["status"] in ("STAGED", "PROVISIONED")
    enable = Job.objects.get(identity=job.identity, kind=Job.Kind.CHANGE)
    assert enable.status == Job.Status.SCHEDULED
    assert lifecycle.start_due_jobs(now=enable.not_before - timezone.timedelta(seconds=1)) == 0
    assert lifecycle.start_due_jobs(now=enable.not_before) == 1
    assert wait_for_job(enable.pk).status == Job.Status.SUCCEEDED
    assert dirs.entra_user(username)["accountEnabled"] is True
    assert dirs.okta_user(username)["status"] == "ACTIVE"
    job.identity.refresh_from_db()
    assert job.identity.status == Identity.Status.ACTIVE


def test_offboarding_someone_the_portal_never_linked_finds_them_by_username(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "unlinked")
    upn = "olga.outsider@unlinked.example"
    dirs.add_entra_user(upn, "Olga", "Outsider")
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Olga",
        last_name="Outsider",
        display_name="Olga Outsider",
        username=upn,
        email=upn,
        status=Identity.Status.ACTIVE,
    )
    job = offboard(identity, delete_after_days=None)
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("last_error"))
    assert dirs.entra_user(upn)["accountEnabled"] is False
    assert identity.accounts.get().remote_id == dirs.entra_user(upn)["id"]
