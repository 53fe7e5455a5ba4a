"""A joiner whose username is on a federated domain of the Entra tenant (Graph creates a user
there only with onPremisesImmutableId, which on-premises AD sync holds) or on a domain the
tenant has not verified: the dry run says so before anything is sent, and a job started
anyway fails with that message, nothing sent, not retried. The connector reads the tenant's
domains (GET /domains) once per catalogue lifetime. Real SDK, the sandbox; the job through a
real worker."""

from __future__ import annotations

import pytest

from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import PermanentError
from provisioning.connectors.factory import connector_for
from provisioning.engine import planner
from provisioning.models import Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories


def hybrid(on_sandbox, slug: str):
    """A tenant whose Entra ID has slug.example (managed), corp.slug.example (federated) and
    new.slug.example (added, not verified); the portal knows all three as its domains."""
    corp, new = f"corp.{slug}.example", f"new.{slug}.example"
    extra = {"domains": [corp], "federated_domains": [corp], "unverified_domains": [new]}
    dirs = make_directories(on_sandbox, slug, entra_extra=extra)
    dirs.tenant.other_domains = [corp, new]
    dirs.tenant.save(update_fields=["other_domains"])
    return dirs, corp, new


def joiner(dirs, domain: str) -> services.OnboardingRequest:
    username = f"ada.lovelace@{domain}"
    return services.OnboardingRequest("Ada", "Lovelace", [dirs.template], username=username)


def entra_plan(dirs, domain: str) -> planner.Plan:
    preview = services.preview_onboarding(dirs.tenant, joiner(dirs, domain))
    connection, plan, error = preview.plans[0]
    assert connection.kind == "entra" and plan is not None, error
    return plan


@pytest.mark.django_db
def test_the_connector_reads_the_domains_and_keeps_them_a_while(on_sandbox):
    dirs, corp, new = hybrid(on_sandbox, "domread")
    connector = connector_for(dirs.tenant.connections.get())
    found = {d.id: d.detail for d in bridge.run(connector.domains())}
    assert found == {
        "domread.example": {"verified": True, "federated": False},
        corp: {"verified": True, "federated": True},
        new: {"verified": False, "federated": False},
    }
    with dirs.control() as control:
        url = f"/_sandbox/entra/{dirs.entra_id}/settings"
        control.put(url, json={"federated_domains": []}).raise_for_status()
    cached = {d.id: d.detail["federated"] for d in bridge.run(connector.domains())}
    fresh = {d.id: d.detail["federated"] for d in bridge.run(connector.domains(fresh=True))}
    assert cached[corp] is True and fresh[corp] is False


@pytest.mark.django_db
def test_a_joiner_on_a_federated_domain_is_stopped_at_dry_run(on_sandbox):
    dirs, corp, _ = hybrid(on_sandbox, "fedstop")
    plan = entra_plan(dirs, corp)
    assert plan.blocked and not plan.steps
    (problem,) = plan.problems
    assert (problem.kind, problem.subject) == ("upn_domain", f"ada.lovelace@{corp}")
    assert f"{corp} is a federated domain" in problem.message
    assert "on-premises AD" in problem.message and "(fedstop.example)" in problem.message


@pytest.mark.django_db
def test_a_joiner_on_a_domain_not_verified_is_stopped_at_dry_run(on_sandbox):
    dirs, _, new = hybrid(on_sandbox, "unverstop")
    plan = entra_plan(dirs, new)
    assert plan.blocked and not plan.steps
    assert f"{new} is not a verified domain" in plan.problems[0].message


@pytest.mark.django_db
def test_a_joiner_on_the_managed_domain_is_planned_as_before(on_sandbox):
    dirs, _, _ = hybrid(on_sandbox, "managedok")
    plan = entra_plan(dirs, "managedok.example")
    assert not plan.problems
    assert plan.steps[0].action == planner.CREATE_USER


@pytest.mark.django_db(transaction=True)
def test_a_join_started_on_a_federated_domain_fails_with_nothing_sent(on_sandbox, worker):
    dirs, corp, _ = hybrid(on_sandbox, "fedjob")
    request = joiner(dirs, corp)
    job = services.request_onboarding(
        dirs.tenant, request, username=request.username, actor="system"
    )
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.FAILED
    assert job.error.startswith("Nothing was sent.") and "federated domain" in job.error
    assert not job.steps.exists()
    assert dirs.entra_user(f"ada.lovelace@{corp}") is None


@pytest.mark.django_db
def test_a_create_refused_on_a_domain_federated_since_the_read_says_why(on_sandbox):
    dirs, corp, _ = hybrid(on_sandbox, "fedlate")
    connector = connector_for(dirs.tenant.connections.get())
    with dirs.control() as control:
        url = f"/_sandbox/entra/{dirs.entra_id}/settings"
        control.put(url, json={"federated_domains": ["fedlate.example", corp]}).raise_for_status()
    new = NewUser(
        username="ada.lovelace@fedlate.example",
        first_name="Ada",
        last_name="Lovelace",
        display_name="Ada Lovelace",
        email="",
        password="Sandb0x!pass-123",
        enabled=True,
        attributes={},
    )
    with pytest.raises(PermanentError) as refused:
        bridge.run(connector.create_user(new))
    assert refused.value.message.startswith("fedlate.example is a federated domain")
    assert "on-premises AD sync" in refused.value.message
    assert "SourceAnchor is a required property" in refused.value.message
