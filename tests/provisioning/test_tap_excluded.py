"""A joiner whose role template puts them in a group the tenant's Temporary Access Pass policy
excludes ("excludeTargets: Groups of users that are excluded from the policy",
temporaryaccesspassauthenticationmethodconfiguration.md): Graph refuses their pass with the
UserCredentialPolicy text, and the step says in words which of the policy's settings can do
that. Services, jobs run in this process (`drive`), the real SDK, the sandbox."""

from __future__ import annotations

import pytest

from provisioning.engine.tasks import run_job
from provisioning.models import Job, Step
from tests.provisioning.directories import make_directories
from tests.provisioning.test_first_sign_in import (
    first_sign_in_steps,
    manager_of,
    onboard,
    set_policy,
)
from tests.provisioning.test_join_proof import PERMISSIONS
from tests.provisioning.test_quarantine_breaker import drive

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def jobs_driven_here(monkeypatch):
    """Every job here is driven in this process (`drive`): none is sent to a worker."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)


POLICY = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"


def test_a_joiner_in_a_group_the_pass_policy_excludes_gets_no_pass_and_is_told_why(
    on_sandbox, mailoutbox, django_capture_on_commit_callbacks
):
    dirs = make_directories(on_sandbox, "tapexcl", entra_extra={"app_permissions": PERMISSIONS})
    listed = dirs.graph("GET", "/groups?$filter=displayName eq 'Sales'").json()["value"]
    exclusion = {"excludeTargets": [{"id": listed[0]["id"], "targetType": "group"}]}
    assert dirs.graph("PATCH", f"{POLICY}/TemporaryAccessPass", exclusion).status_code == 204
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap")
    with django_capture_on_commit_callbacks(execute=True):
        join = drive(onboard(dirs, manager.username))

    assert join.status == Job.Status.PARTIAL
    (step,) = first_sign_in_steps(join)
    assert step.status == Step.Status.FAILED and step.error_kind == "permanent"
    assert "UserCredentialPolicy" in step.last_error  # Graph's words kept
    assert "excludes" in step.last_error  # and the setting that can cause it named
    assert mailoutbox == []
