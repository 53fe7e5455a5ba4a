"""A usage location stored before the forms took only ISO 3166 codes (a tenant's default or a
role template's `UK`): Graph refuses it (400 invalid value for usageLocation), so the joiner's
dry run stops on it, names the fix and sends nothing. Real SDK, the sandbox."""

from __future__ import annotations

import pytest

from provisioning import services
from tests.provisioning.directories import make_directories


@pytest.mark.django_db
def test_a_joiner_with_a_stored_usage_location_that_is_no_country_is_stopped_at_dry_run(
    on_sandbox,
):
    dirs = make_directories(on_sandbox, "ukloc")
    dirs.tenant.default_usage_location = "UK"  # as the tenant form once took it
    dirs.tenant.save(update_fields=["default_usage_location"])
    joiner = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], username="ada.lovelace@ukloc.example"
    )
    connection, plan, error = services.preview_onboarding(dirs.tenant, joiner).plans[0]
    assert connection.kind == "entra" and plan is not None, error
    assert plan.blocked and not plan.steps
    (problem,) = [p for p in plan.problems if p.kind == "usage_location"]
    assert problem.message == (
        "The usage location UK is not an ISO 3166 country code: use GB. The directory refuses "
        "it; correct it on the person, their role template or the tenant."
    )
