"""What a plan's reads cost, counted by the sandbox: an Entra onboarding is four round trips
(the joiner's lookups, the create, the writes, the read that verifies) besides the catalogues
and the token a worker process reads once, a leaver's reads with the whole handover are one,
and the engine takes a token from the connection's bucket for every operation a plan's read
sends."""

from __future__ import annotations

import pytest

from provisioning import services, throttle
from provisioning.engine import admission, executor
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

BATCH = "POST /v1.0/$batch"


def onboard(dirs, first: str, last: str, **attributes) -> Job:
    request = services.OnboardingRequest(
        first_name=first, last_name=last, role_templates=[dirs.template], attributes=attributes
    )
    username = f"{first}.{last}@{dirs.tenant.primary_domain}".lower()  # not looked up here
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def reset_stats(dirs) -> None:
    with dirs.control() as control:
        control.delete(f"/_sandbox/entra/{dirs.entra_id}/stats").raise_for_status()


# Read once per worker process and kept (a job may run in a process that has not read them).
CATALOGUES = {
    "GET /v1.0/groups",
    "GET /v1.0/servicePrincipals",
    "GET /v1.0/subscribedSkus",
    "GET /v1.0/domains",  # a joiner's domain: verified, not federated (engine/upn_domains.py)
    "POST /{tenant}/oauth2/v2.0/token",
}


def own_requests(stats: dict) -> dict[str, int]:
    """The HTTP requests of a person's job by route (a `$batch` is one, whatever it carries),
    without the catalogues and the token."""
    batched = stats["batched_calls"]
    sent = {route: n - batched.get(route, 0) for route, n in stats["calls"].items()}
    return {route: n for route, n in sent.items() if n and route not in CATALOGUES}


def operations(stats: dict) -> int:
    """Graph operations as the directory counts them: each `$batch` sub-request, not the
    envelope; no token requests."""
    return sum(n for route, n in stats["calls"].items() if route != BATCH and "oauth2" not in route)


@pytest.mark.django_db(transaction=True)
def test_an_onboarding_is_four_round_trips_the_catalogues_aside(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "rounds-join", groups=["Staff", "Sales", "Finance"])
    reset_stats(dirs)

    job = wait_for_job(onboard(dirs, "Grace", "Hopper").pk)

    assert job.status == Job.Status.SUCCEEDED, job.error
    stats = dirs.stats("entra")
    # The lookups (username, the address among users and groups), POST /users, the writes,
    # the read that verifies.
    assert own_requests(stats) == {BATCH: 3, "POST /v1.0/users": 1}, stats
    lookups = ("GET /v1.0/users/{id}", "GET /v1.0/users", "GET /v1.0/groups")
    assert all(stats["batched_calls"][route] >= 1 for route in lookups), stats
    user = dirs.entra_user(f"grace.hopper@{dirs.tenant.primary_domain}")
    assert sorted(user["groups"]) == ["Finance", "Sales", "Sales (dynamic)", "Staff"]


@pytest.mark.django_db(transaction=True)
def test_a_leavers_reads_are_one_round_trip_with_the_whole_handover(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "rounds-leave")
    boss = dirs.add_entra_user("bo.boss@rounds-leave.example", "Bo", "Boss")
    job = wait_for_job(onboard(dirs, "Ada", "Lovelace", manager="Bo Boss").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    leaver = job.identity
    report = dirs.add_entra_user("cy.report@rounds-leave.example", "Cy", "Report")
    leaver_id = leaver.accounts.get().remote_id
    ref = {"@odata.id": f"{on_sandbox.url}/v1.0/users/{leaver_id}"}
    assert dirs.graph("PUT", f"/users/{report['id']}/manager/$ref", ref).status_code == 204
    chosen = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    for name in ("auto_reply", "forward_to_manager", "files_to_manager", "reassign_reports"):
        setattr(chosen, name, True)
    chosen.auto_reply_message = "Ada has left."
    lifecycle.preview_offboarding(leaver, chosen)  # the roles' and units' names, once
    reset_stats(dirs)

    [(_, plan, error)] = lifecycle.preview_offboarding(leaver, chosen).plans

    assert not error, error
    stats = dirs.stats("entra")
    assert own_requests(stats) == {BATCH: 1}, stats
    for read in ("manager", "directReports", "mailboxSettings", "drive/root/permissions"):
        assert stats["calls"][f"GET /v1.0/users/{{id}}/{read}"] == 1, stats["calls"]
    assert stats["calls"]["GET /v1.0/roleManagement/directory/roleAssignments"] == 1
    reassigned = [s for s in plan.steps if s.action == "reassign_report"]
    assert [s.params["report_id"] for s in reassigned] == [report["id"]]
    assert reassigned[0].params["manager"]["id"] == boss["id"]
    assert {"auto_reply", "forward_mail", "share_files"} <= {s.action for s in plan.steps}


@pytest.mark.django_db
@pytest.mark.parametrize("tokens_left", [6, 7])
def test_a_plans_read_takes_a_token_for_each_operation_it_sends(on_sandbox, tokens_left):
    """A first join's plan sends seven operations: the lookups of the username and the
    address among users and groups, in one `$batch`, and the groups, apps, SKUs and the
    tenant's domains. (A bucket too small for a joiner's first round: its read reserves for
    itself alone.)"""
    dirs = make_directories(on_sandbox, f"rounds-pace{tokens_left}", rate_limit_per_s=0.01)
    connection = dirs.tenant.connections.get(kind="entra")
    connection.rate_burst = admission.TOKENS_PER_JOB - 1
    connection.save()
    job = onboard(dirs, "Ada", "Lovelace")  # not started: its transaction never commits
    throttle.reset(connection)
    assert throttle.acquire(connection, tokens=connection.rate_burst - tokens_left) == 0.0
    reset_stats(dirs)

    executor.plan_job(job)

    job.refresh_from_db()
    stats = dirs.stats("entra")
    if tokens_left < 7:
        assert not job.planned and operations(stats) == 0, stats
        return
    assert job.planned and operations(stats) == 7, (job.waiting_reason, stats)
    assert stats["calls"][BATCH] == 1
    assert throttle.acquire(connection, tokens=1) > 0  # the seven took every token left


@pytest.mark.django_db(transaction=True)
def test_a_leaves_app_removal_rides_in_the_write_batch_without_a_listing(on_sandbox, worker):
    """The assignments a leave's read found are deleted in the `$batch` with the groups and
    the licence: no listing of them again, no request of their own. Still all removed, and
    the read-back verifies (the job succeeds)."""
    dirs = make_directories(on_sandbox, "rounds-leaver")
    job = wait_for_job(onboard(dirs, "Ada", "Lovelace").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    assert dirs.entra_user(username)["appRoleAssignments"], dirs.entra_user(username)
    chosen = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    reset_stats(dirs)

    leave = wait_for_job(lifecycle.request_offboarding(job.identity, chosen, actor="system").pk)

    assert leave.status == Job.Status.SUCCEEDED, leave.error
    stats = dirs.stats("entra")
    sent = own_requests(stats)
    # The read, the writes' `$batch` (groups, licence, app), the read that verifies; the
    # password reset, the block and the revoke go on their own.
    assert sent.get(BATCH) == 3, stats
    assert "GET /v1.0/users/{id}/appRoleAssignments" not in sent, stats
    assert "DELETE /v1.0/users/{id}/appRoleAssignments/{assignment}" not in sent, stats
    assert stats["batched_calls"]["DELETE /v1.0/users/{id}/appRoleAssignments/{assignment}"] == 1
    assert stats["calls"]["GET /v1.0/users/{id}/appRoleAssignments"] == 2  # read, read-back
    user = dirs.entra_user(username)
    assert not user["appRoleAssignments"] and not user["licenses"], user
