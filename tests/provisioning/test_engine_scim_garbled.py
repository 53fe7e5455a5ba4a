"""A SCIM app that answers with a success that is no SCIM message (RFC 7644 §3.1, §3.3,
§3.5.2 say what a success carries): the engine tries the step once more, in case the answer
came garbled in passing, then stops it as a permanent failure naming the app and what came,
instead of trying it eight times (driven in this process, against the sandbox's SCIM app)."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.engine.tasks import run_job
from provisioning.models import Job, Step
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app

pytestmark = pytest.mark.django_db


def join_with_slack(on_sandbox, monkeypatch, **garble) -> tuple[Job, object]:
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"garb{uuid.uuid4().hex[:6]}")
    app = make_app(on_sandbox, "full", groups=["sales"])
    slack = connect(dirs.tenant, app, "Slack")
    dirs.template.scim_apps = [{"connection": slack.pk, "groups": ["sales"]}]
    dirs.template.save()
    app.control("PUT", "/settings", json={"garble_as": "empty", **garble})  # empty: no body
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    return drive(join), slack


def test_a_garbled_answer_in_passing_is_tried_once_more(on_sandbox, monkeypatch):
    """The create's 201 comes without its body: the app made the user, the second try
    finds it there and links it."""
    join, slack = join_with_slack(on_sandbox, monkeypatch, garble_next=1, garble_on="POST")

    assert join.status == Job.Status.SUCCEEDED, join.error
    create = join.steps.get(connection=slack, action="create_user")
    assert (create.status, create.attempts) == (Step.Status.SUCCEEDED, 2)


def test_an_app_that_keeps_garbling_fails_the_step_after_one_more_try(on_sandbox, monkeypatch):
    """Every answer to a PATCH comes as a proxy's HTML page, with a 200."""
    garble = {"garble_next": 50, "garble_on": "PATCH", "garble_as": "html"}
    join, slack = join_with_slack(on_sandbox, monkeypatch, **garble)

    assert join.status == Job.Status.PARTIAL  # the rest of the join is done all the same
    add = join.steps.get(connection=slack, action="add_group")
    assert (add.status, add.attempts, add.error_kind) == (Step.Status.FAILED, 2, "permanent")
    assert add.last_error.startswith("Slack (SCIM) answered 200 with something that is not SCIM")
    assert "(text/html; charset=utf-8, 54 bytes)" in add.last_error
    assert join.steps.exclude(pk=add.pk).exclude(status=Step.Status.SUCCEEDED).count() == 0
