"""A leaver's reads on a flaky directory: Entra answers each request of a `$batch` with its own
status, so the requests that failed are sent again on their own (a GET is safe to repeat),
not the whole read, and within a bound. A leaver's read is eleven GETs: at a 20 % error share
nearly every read has one failure, and a plan that tried the whole read again gave up after
20 tries about one leave in six."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.connectors import entra_reads
from provisioning.connectors.entra import EntraConnector
from provisioning.engine.tasks import run_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = "POST /v1.0/$batch"
HANDOVER = ("auto_reply", "forward_to_manager", "files_to_manager", "reassign_reports")


def a_leaver(on_sandbox, monkeypatch, name: str):
    """A joined person with a manager and a report, and a leave that hands everything over
    (the leaver's whole read: the account, its access and roles, manager, reports, mailbox,
    inbox rules, OneDrive), the catalogues read once already."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    slug = f"{name}{uuid.uuid4().hex[:6]}"
    dirs = make_directories(on_sandbox, slug, kinds=("entra",))
    dirs.add_entra_user(f"bo.boss@{dirs.tenant.primary_domain}", "Bo", "Boss")
    request = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], attributes={"manager": "Bo Boss"}
    )
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    leaver = join.identity
    report = dirs.add_entra_user(f"cy.report@{dirs.tenant.primary_domain}", "Cy", "Report")
    ref = {"@odata.id": f"{on_sandbox.url}/v1.0/users/{leaver.accounts.get().remote_id}"}
    assert dirs.graph("PUT", f"/users/{report['id']}/manager/$ref", ref).status_code == 204
    chosen = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    for option in HANDOVER:
        setattr(chosen, option, True)
    chosen.auto_reply_message = "Ada has left."
    assert not read_error(leaver, chosen)  # the catalogues and role names, once
    return dirs, leaver, chosen


def read_error(leaver, chosen) -> str:
    """The leave's dry run: one read of the directory, tried once (no plan retries)."""
    [(_, _, error)] = lifecycle.preview_offboarding(leaver, chosen).plans
    return error


def reset_stats(dirs) -> None:
    with dirs.control() as control:
        control.delete(f"/_sandbox/entra/{dirs.entra_id}/stats").raise_for_status()


def sub_requests(stats: dict) -> int:
    return sum(stats["batched_calls"].values())


def test_only_the_failed_requests_of_a_leavers_read_are_sent_again(on_sandbox, monkeypatch):
    dirs, leaver, chosen = a_leaver(on_sandbox, monkeypatch, "rb-again")
    reset_stats(dirs)
    assert not read_error(leaver, chosen)
    whole = sub_requests(dirs.stats("entra"))
    assert whole >= 11  # the account's six GETs, manager, reports, mailbox, rules, drive

    reset_stats(dirs)
    dirs.behave("entra", error_next=3)
    error = read_error(leaver, chosen)

    stats = dirs.stats("entra")
    assert not error, error
    assert stats["faults"] == {"error": 3}
    assert stats["calls"][BATCH] == 2, stats  # the read, then the three that failed
    assert sub_requests(stats) == whole + 3, stats


def test_a_read_whose_requests_keep_failing_gives_up_after_a_bound(on_sandbox, monkeypatch):
    """Three requests of the read fail, and then every request sent fails: the read gives
    up after READ_PASSES sends, and the engine tries the plan again later (at most
    MAX_PLAN_ATTEMPTS times)."""
    dirs, leaver, chosen = a_leaver(on_sandbox, monkeypatch, "rb-bound")
    reset_stats(dirs)
    assert not read_error(leaver, chosen)
    whole = sub_requests(dirs.stats("entra"))
    sent = EntraConnector._post_batch

    async def then_failing(connector, requests, **kwargs):
        answers = await sent(connector, requests, **kwargs)
        dirs.behave("entra", error_rate=1.0)  # from the first send on
        return answers

    monkeypatch.setattr(EntraConnector, "_post_batch", then_failing)
    reset_stats(dirs)
    dirs.behave("entra", error_next=3)
    try:
        error = read_error(leaver, chosen)
    finally:
        dirs.behave("entra", error_rate=0.0)

    stats = dirs.stats("entra")
    assert error
    assert stats["calls"][BATCH] == entra_reads.READ_PASSES, (error, stats)
    assert sub_requests(stats) == whole + 3 * (entra_reads.READ_PASSES - 1)


def test_a_directory_that_answers_none_of_a_read_is_left_to_the_engine(on_sandbox, monkeypatch):
    """Every request of the read failed: the directory is down, not flaky. The plan waits
    (the engine's back-off, no worker held) instead of sending the read again at once."""
    dirs, leaver, chosen = a_leaver(on_sandbox, monkeypatch, "rb-down")
    reset_stats(dirs)
    dirs.behave("entra", error_rate=1.0)
    error = read_error(leaver, chosen)
    dirs.behave("entra", error_rate=0.0)

    assert error
    assert dirs.stats("entra")["calls"][BATCH] == 1


def test_a_leavers_reads_on_a_directory_failing_one_call_in_five_go_through(
    on_sandbox, monkeypatch
):
    """Ten dry runs of the leave at a 20 % error share: each read is one try. Sending the whole
    read again, about nine in ten failed (0.8 ** 11 of them went through)."""
    dirs, leaver, chosen = a_leaver(on_sandbox, monkeypatch, "rb-share")
    dirs.behave("entra", error_rate=0.2)
    try:
        errors = [read_error(leaver, chosen) for _ in range(10)]
    finally:
        dirs.behave("entra", error_rate=0.0)
    failed = [e for e in errors if e]
    assert len(failed) <= 3, failed


def test_a_leave_on_a_directory_failing_one_call_in_five_ends_left(on_sandbox, monkeypatch):
    dirs, leaver, chosen = a_leaver(on_sandbox, monkeypatch, "rb-leave")
    dirs.behave("entra", error_rate=0.2)
    try:
        leave = lifecycle.request_offboarding(leaver, chosen, actor="system")
        leave = drive(leave, max_runs=1000)
    finally:
        dirs.behave("entra", error_rate=0.0)
    assert leave.status == Job.Status.SUCCEEDED, leave.error
    [account] = [
        u for u in dirs.entra_state()["users"] if u["userPrincipalName"] == leaver.username
    ]
    assert account["accountEnabled"] is False
