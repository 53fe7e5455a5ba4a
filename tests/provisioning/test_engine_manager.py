"""The manager named at onboarding, written to Entra ID (manager/$ref) and read back; checked
at dry run (nobody, or several people, by that name: a blocking problem naming them); planned
only when the directory holds another one. Real worker, real SDK, the sandbox."""

import pytest

from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.engine import planner
from provisioning.engine.desired import desired_for
from provisioning.engine.manager import REASSIGN_REPORT, SET_MANAGER
from provisioning.models import Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)


def request(dirs, manager: str, first="Ada", last="Lovelace") -> services.OnboardingRequest:
    return services.OnboardingRequest(
        first_name=first,
        last_name=last,
        role_templates=[dirs.template],
        attributes={"manager": manager},
    )


def onboard(dirs, manager: str) -> Job:
    chosen = request(dirs, manager)
    username = services.suggest_username(dirs.tenant, chosen)
    job = services.request_onboarding(dirs.tenant, chosen, username=username, actor="system")
    return wait_for_job(job.pk)


def manager_of(dirs, upn: str) -> dict | None:
    response = dirs.graph("GET", f"/users/{upn}/manager")
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def replan(identity):
    """What a reconcile of `identity` would do now."""
    connection = identity.tenant.connections.get(kind="entra")
    account = identity.accounts.get(connection=connection)
    return bridge.run(
        planner.plan_account(
            connector_for(connection),
            connection.pk,
            desired_for(identity, connection),
            planner.AccountView(remote_id=account.remote_id, managed=account.managed),
        )
    )


def test_the_manager_named_at_onboarding_is_written_and_read_back(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mgr-join")
    boss = dirs.add_entra_user("bo.boss@mgr-join.example", "Bo", "Boss")
    job = onboard(dirs, "Bo Boss")
    steps = list(job.steps.values_list("action", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps
    assert (SET_MANAGER, "succeeded", "") in steps
    assert manager_of(dirs, job.identity.username)["id"] == boss["id"]
    assert replan(job.identity).steps == []  # read back equal: nothing more to do


def test_a_manager_given_by_username_resolves_exactly(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mgr-upn")
    dirs.add_entra_user("sam.same@mgr-upn.example", "Sam", "Same")
    wanted = dirs.add_entra_user("sam.same2@mgr-upn.example", "Sam", "Same")
    job = onboard(dirs, "sam.same2@mgr-upn.example")
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert manager_of(dirs, job.identity.username)["id"] == wanted["id"]


def test_an_ambiguous_manager_blocks_the_dry_run_and_the_job_naming_the_candidates(
    on_sandbox, worker
):
    dirs = make_directories(on_sandbox, "mgr-two")
    dirs.add_entra_user("sam.same@mgr-two.example", "Sam", "Same")
    dirs.add_entra_user("sam.same2@mgr-two.example", "Sam", "Same")
    preview = services.preview_onboarding(dirs.tenant, request(dirs, "Sam Same"))
    [problem] = preview.blocking_problems
    assert problem.kind == "manager"
    assert "sam.same@mgr-two.example" in problem.message
    assert "sam.same2@mgr-two.example" in problem.message
    job = onboard(dirs, "Sam Same")
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("Nothing was sent.") and "Sam Same" in job.error
    assert dirs.entra_user(job.identity.username) is None  # never guessed, never created


def test_a_manager_nobody_is_called_blocks_the_dry_run(on_sandbox):
    dirs = make_directories(on_sandbox, "mgr-none")
    preview = services.preview_onboarding(dirs.tenant, request(dirs, "Nobody Here"))
    [problem] = preview.blocking_problems
    assert "matches nobody" in problem.message


def test_a_manager_changed_in_the_directory_is_put_back(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mgr-drift")
    boss = dirs.add_entra_user("bo.boss@mgr-drift.example", "Bo", "Boss")
    other = dirs.add_entra_user("ot.her@mgr-drift.example", "Ot", "Her")
    job = onboard(dirs, "Bo Boss")
    assert job.status == Job.Status.SUCCEEDED, job.error
    upn = job.identity.username
    ref = {"@odata.id": f"{on_sandbox.url}/v1.0/users/{other['id']}"}
    assert dirs.graph("PUT", f"/users/{upn}/manager/$ref", ref).status_code == 204
    plan = replan(job.identity)
    assert [(s.action, s.params["manager"]["id"]) for s in plan.steps] == [
        (SET_MANAGER, boss["id"])
    ]


def test_an_unresolvable_manager_of_a_running_account_is_a_note(on_sandbox, worker):
    """Two people now share the name the person was joined with: the reconcile goes on."""
    dirs = make_directories(on_sandbox, "mgr-later")
    job = onboard(dirs, "")
    assert job.status == Job.Status.SUCCEEDED, job.error
    identity = job.identity
    identity.attributes = {**identity.attributes, "manager": "Nobody Here"}
    identity.save(update_fields=["attributes"])
    plan = replan(identity)
    assert plan.steps == []
    assert [p.blocking for p in plan.problems if p.kind == "manager"] == [False]


def test_reports_reassign_step_names_report_and_new_manager(on_sandbox, worker):
    """A leaver's report goes to the leaver's manager: one step, then none (level-triggered)."""
    from provisioning.lifecycle import services as lifecycle

    dirs = make_directories(on_sandbox, "mgr-leave")
    boss = dirs.add_entra_user("bo.boss@mgr-leave.example", "Bo", "Boss")
    job = onboard(dirs, "Bo Boss")
    leaver = job.identity
    report = dirs.add_entra_user("cy.report@mgr-leave.example", "Cy", "Report")
    ref = {"@odata.id": f"{on_sandbox.url}/v1.0/users/{dirs.entra_user(leaver.username)['id']}"}
    assert dirs.graph("PUT", f"/users/{report['id']}/manager/$ref", ref).status_code == 204
    options = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    preview = lifecycle.preview_offboarding(leaver, options)
    [(_, plan, _)] = preview.plans
    reassign = [s for s in plan.steps if s.action == REASSIGN_REPORT]
    assert [(s.params["report_id"], s.params["manager"]["id"]) for s in reassign] == [
        (report["id"], boss["id"])
    ]
    assert "Cy Report" in reassign[0].target_name and "Bo Boss" in reassign[0].target_name
    left = wait_for_job(lifecycle.request_offboarding(leaver, options, actor="system").pk)
    assert left.status == Job.Status.SUCCEEDED, left.error
    assert manager_of(dirs, report["id"])["id"] == boss["id"]


# -- Okta: the profile's managerId (the manager's id) and manager (their display name) -------


def okta_api(dirs, method: str, path: str, body: dict | None = None):
    import httpx

    return httpx.request(
        method,
        f"{dirs.server.url}/okta/{dirs.okta_id}/api/v1{path}",
        json=body,
        headers={"Authorization": f"SSWS {dirs.okta_id}-token", "Accept": "application/json"},
        verify=str(dirs.server.ca),
    )


def add_okta_user(dirs, login: str, first: str, last: str, **profile) -> dict:
    body = {
        "profile": {
            "login": login,
            "email": login,
            "firstName": first,
            "lastName": last,
            "displayName": f"{first} {last}",
            **profile,
        }
    }
    response = okta_api(dirs, "POST", "/users?activate=true", body)
    assert response.status_code == 200, response.text
    return response.json()


def test_okta_manager_written_to_the_profile_and_reports_reassigned(on_sandbox, worker):
    from provisioning.lifecycle import services as lifecycle

    dirs = make_directories(on_sandbox, "mgr-okta", kinds=("okta",))
    boss = add_okta_user(dirs, "bo.boss@mgr-okta.example", "Bo", "Boss")
    job = onboard(dirs, "Bo Boss")
    assert job.status == Job.Status.SUCCEEDED, job.error
    profile = dirs.okta_user(job.identity.username)["profile"]
    assert (profile["managerId"], profile["manager"]) == (boss["id"], "Bo Boss")

    leaver = job.identity
    report = add_okta_user(
        dirs,
        "cy.report@mgr-okta.example",
        "Cy",
        "Report",
        managerId=dirs.okta_user(leaver.username)["id"],
    )
    options = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    left = wait_for_job(lifecycle.request_offboarding(leaver, options, actor="system").pk)
    steps = list(left.steps.values_list("action", "status"))
    assert left.status == Job.Status.SUCCEEDED, (left.error, steps)
    assert (REASSIGN_REPORT, "succeeded") in steps
    moved = okta_api(dirs, "GET", f"/users/{report['id']}").json()["profile"]
    assert (moved["managerId"], moved["manager"]) == (boss["id"], "Bo Boss")


def test_okta_ambiguous_manager_blocks_naming_both(on_sandbox):
    dirs = make_directories(on_sandbox, "mgr-okta2", kinds=("okta",))
    add_okta_user(dirs, "sam.same@mgr-okta2.example", "Sam", "Same")
    add_okta_user(dirs, "sam.other@mgr-okta2.example", "Sam", "Same")
    preview = services.preview_onboarding(dirs.tenant, request(dirs, "Sam Same"))
    [problem] = preview.blocking_problems
    assert "sam.same@mgr-okta2.example" in problem.message
    assert "sam.other@mgr-okta2.example" in problem.message
