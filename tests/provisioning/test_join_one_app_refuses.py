"""A join into Entra ID, Okta and a SCIM app where the app refuses for good (converge25): the
person is not Active and the join not Succeeded while the app lacks what was asked; Entra and
Okta hold the account as asked all the same; the cause fixed, a retry of the join's failed
steps converges. Driven in this process (`drive`), the real SDKs, the sandbox."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.engine.tasks import run_job
from provisioning.models import Identity, Job, Step
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app
from tests.provisioning.test_join_proof import status_of

pytestmark = pytest.mark.django_db

# Each answer to a PATCH comes as a proxy's HTML page with a 200: no SCIM message (RFC 7644
# §3.5.2), the engine's permanent failure after one more try (test_engine_scim_garbled).
REFUSING = {"garble_next": 1000, "garble_on": "PATCH", "garble_as": "html"}


def entra_okta_and_slack(on_sandbox, prefix: str):
    """A tenant with Entra ID and Okta, and a SCIM app "Slack" its template gives (group
    "sales"): the directories and the app."""
    dirs = make_directories(on_sandbox, f"{prefix}{uuid.uuid4().hex[:8]}", kinds=("entra", "okta"))
    app = make_app(on_sandbox, "full", groups=["sales"])
    slack = connect(dirs.tenant, app, "Slack")
    dirs.template.scim_apps = [{"connection": slack.pk, "groups": ["sales"]}]
    dirs.template.save()
    return dirs, app


def ada_joins(dirs) -> tuple[Job, str]:
    """Ada Lovelace's onboarding with the tenant's template, asked (not run): the job and
    her username."""
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    return join, username


def non_succeeded(job: Job) -> list:
    steps = job.steps.exclude(status=Step.Status.SUCCEEDED)
    return list(steps.values_list("connection__name", "action", "status", "last_error"))


def test_a_join_the_scim_app_refuses_keeps_the_person_a_joiner_until_a_retry_converges(
    on_sandbox, monkeypatch, client, msp_admin
):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "cv")
    app.control("PUT", "/settings", json=REFUSING)
    join, username = ada_joins(dirs)

    join = drive(join)

    assert join.status == Job.Status.PARTIAL, non_succeeded(join)
    [(name, action, status, error)] = non_succeeded(join)
    assert (name, action, status) == ("Slack", "add_group", Step.Status.FAILED)
    assert "not SCIM" in error
    identity = Identity.objects.get(pk=join.identity_id)
    assert identity.status == Identity.Status.JOINER
    client.force_login(msp_admin)
    assert status_of(client, identity) == "Joiner"
    # The other directories as asked: enabled, in the template's groups.
    assert dirs.entra_user(username)["accountEnabled"] is True
    assert dirs.okta_user(username)["status"] == "ACTIVE"
    # The app carried the PATCH out (a garbled answer comes after the change): what it holds
    # cannot be read from that answer, so the join stays unfinished rather than say done.
    assert app.user(username) is not None

    app.control("PUT", "/settings", json={"garble_next": 0})  # the app's admin fixed it
    services.retry_failed_steps(join, actor=msp_admin)
    join = drive(join)

    assert join.status == Job.Status.SUCCEEDED, non_succeeded(join)
    assert app.groups_of(app.user(username)["id"]) == {"sales"}
    identity.refresh_from_db()
    assert identity.status == Identity.Status.ACTIVE
    assert status_of(client, identity) == "Active"
    assert dirs.entra_user(username)["accountEnabled"] is True
    assert dirs.okta_user(username)["status"] == "ACTIVE"


def test_a_join_stopped_by_an_app_that_cannot_be_read_says_nothing_was_sent(
    on_sandbox, monkeypatch, msp_admin
):
    """The app answers 500 to every call, its reads too: the job reads every directory before
    it writes to any, so it gives up having sent nothing, and says so (a technician reading
    "Gave up reading Slack" alone cannot tell whether Entra ID and Okta hold a half-made
    account). With the app back, a retry converges."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs, app = entra_okta_and_slack(on_sandbox, "cv")
    app.behave(error_rate=1.0)
    join, username = ada_joins(dirs)

    join = drive(join)

    assert join.status == Job.Status.FAILED and join.steps_total == 0
    assert join.error.startswith("Gave up reading") and "Slack" in join.error
    assert join.error.endswith("Nothing was sent to any directory.")
    assert dirs.entra_user(username) is None and dirs.okta_user(username) is None

    app.behave(error_rate=0.0)
    services.retry_failed_steps(join, actor=msp_admin)
    join = drive(join)

    assert join.status == Job.Status.SUCCEEDED, non_succeeded(join)
    assert Identity.objects.get(pk=join.identity_id).status == Identity.Status.ACTIVE
    assert app.groups_of(app.user(username)["id"]) == {"sales"}
