"""Onboarding end to end: the service, a real Celery worker, the real SDKs, the sandbox."""

import time

import pytest

from provisioning import services
from provisioning.models import DirectoryAccount, Job, Step
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)


def onboard(dirs, first="Ada", last="Lovelace", **kwargs) -> Job:
    request = services.OnboardingRequest(
        first_name=first, last_name=last, role_templates=[dirs.template], **kwargs
    )
    username = services.suggest_username(dirs.tenant, request)
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def assert_entra_user_complete(dirs, upn: str) -> None:
    user = dirs.entra_user(upn)
    assert user is not None, f"{upn} is not in the directory"
    assert user["accountEnabled"] is True
    assert user["usageLocation"] == "GB"
    assert user["department"] == "Sales" and user["jobTitle"] == "Account Executive"
    assert user["licenses"] == ["SPE_E3"]
    assert sorted(user["groups"]) == ["Sales", "Sales (dynamic)", "Staff"]
    assert [a["app"] for a in user["appRoleAssignments"]] == ["Salesforce"]


def assert_okta_user_complete(dirs, login: str) -> None:
    user = dirs.okta_user(login)
    assert user is not None, f"{login} is not in the org"
    assert user["status"] == "ACTIVE"
    assert user["profile"]["department"] == "Sales"
    groups = {g["name"] for g in dirs.okta_state()["groups"] if user["id"] in g["members"]}
    groups.discard("Everyone")  # built in: Okta puts every user there
    assert groups == {"Staff", "Sales"}
    apps = {a["label"] for a in dirs.okta_state()["apps"] if user["id"] in a["user_ids"]}
    assert apps == {"Salesforce"}


@pytest.mark.parametrize("kinds", [("entra",), ("okta",), ("entra", "okta")])
def test_onboarding_reaches_every_directory_of_the_tenant(on_sandbox, worker, kinds):
    dirs = make_directories(on_sandbox, f"co-{'-'.join(kinds)}", kinds)
    job = wait_for_job(onboard(dirs).pk)
    steps = list(job.steps.values_list("action", "target_name", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    if "entra" in kinds:
        assert_entra_user_complete(dirs, upn)
    if "okta" in kinds:
        assert_okta_user_complete(dirs, upn)
    assert job.identity.status == "active"
    accounts = DirectoryAccount.objects.filter(identity=job.identity)
    assert accounts.count() == len(kinds) and all(a.remote_id for a in accounts)


def test_the_same_job_twice_changes_nothing_more(on_sandbox, worker):
    from provisioning.tasks import run_job

    dirs = make_directories(on_sandbox, "twice")
    job = wait_for_job(onboard(dirs).pk)
    calls_before = dirs.stats("entra")["total_calls"]
    run_job.delay(job.pk)
    run_job.delay(job.pk)
    time.sleep(3)  # give the worker time to (not) act on both messages
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.runs == 1
    assert dirs.stats("entra")["total_calls"] == calls_before
    users = [u for u in dirs.entra_state()["users"] if u["userPrincipalName"].startswith("ada.")]
    assert len(users) == 1


def test_existing_account_of_the_same_person_is_linked_not_duplicated(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "linkme")
    upn = "ada.lovelace@linkme.example"
    dirs.add_entra_user(upn, "Ada", "Lovelace")
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = services.request_onboarding(dirs.tenant, request, username=upn, actor="system")
    job = wait_for_job(job.pk)
    actions = list(job.steps.values_list("action", flat=True))
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("last_error", flat=True))
    assert "create_user" not in actions and "link_user" in actions
    assert [u["userPrincipalName"] for u in dirs.entra_state()["users"]].count(upn) == 1
    assert_entra_user_complete(dirs, upn)


def test_username_of_someone_else_fails_clearly_and_sends_nothing(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "taken")
    upn = "ada.lovelace@taken.example"
    dirs.add_entra_user(upn, "Adam", "Smith")
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    job = wait_for_job(
        services.request_onboarding(dirs.tenant, request, username=upn, actor="system").pk
    )
    assert job.status == Job.Status.FAILED
    assert "already exists in this directory for someone else" in job.error
    assert "Nothing was sent" in job.error
    assert not Step.objects.filter(job=job).exists()
    # nor is the other person's account linked: a later job would change it
    assert not job.identity.accounts.exclude(remote_id="").exists()


def test_a_job_succeeds_only_with_the_read_back_and_its_page_shows_it(
    on_sandbox, worker, client, msp_admin
):
    dirs = make_directories(on_sandbox, "verified", ("entra", "okta"))
    job = wait_for_job(onboard(dirs).pk)
    assert job.status == Job.Status.SUCCEEDED
    # The last round read both directories and found nothing to do: that read is the record.
    assert job.converged_version == job.identity.desired_version == job.desired_version
    read = job.verification["directories"]
    assert set(read) == {str(c.pk) for c in dirs.tenant.connections.all()}
    entra = read[str(dirs.tenant.connections.get(kind="entra").pk)]
    assert entra["enabled"] is True and entra["licenses"] == 1 and entra["apps"] == 1
    assert entra["account"] == dirs.entra_user(job.identity.username)["id"]
    client.force_login(msp_admin)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "every directory equals the person's desired state" in page
    assert entra["account"] in page
