"""The passwords the engine makes up (a joiner's first one, a leaver's reset) hold no part of
the person's username or names: Okta's default password policy refuses "parts of your
username" (excludeUsername, true by default; excludeAttributes may add firstName and lastName),
and a draw that happened to hold a three-letter username failed the step for good, about
once in 1,600 (tests/provisioning/password_draws.py forces that draw)."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.engine.steps import random_password
from provisioning.models import Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.password_draws import next_password_starts_with

pytestmark = pytest.mark.django_db


def test_a_joiners_first_password_that_would_hold_her_username_is_drawn_again(
    on_sandbox, monkeypatch
):
    dirs = make_directories(on_sandbox, f"pw{uuid.uuid4().hex[:8]}", kinds=("okta",))
    username = f"eve@{dirs.tenant.primary_domain}"
    request = services.OnboardingRequest("Eve", "Example", [dirs.template])
    join = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    draws = next_password_starts_with(monkeypatch, "EvE")

    job = drive(join)

    assert draws.left == []  # the first draw did hold her username
    steps = [(s.action, s.status, s.last_error) for s in job.steps.order_by("order")]
    assert job.status == Job.Status.SUCCEEDED, (job.error, steps)
    assert job.steps.get(action="create_user").attempts == 1
    assert dirs.okta_user(username)["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "first, names",
    [
        ("sMiTh", ["ann.smith@example.com"]),  # a part of the username, in any case
        ("ann", ["ann.smith@example.com"]),
        ("9zo", ["9zo@example.com"]),
        ("Quist", ["zq@example.com", "Zoe", "Quist"]),  # a last name
    ],
)
def test_a_password_holds_no_part_of_the_names_it_is_given(monkeypatch, first, names):
    draws = next_password_starts_with(monkeypatch, first)

    password = random_password(names)

    assert draws.left == [] and not password.startswith(first)
    assert first.casefold() not in password.casefold()
