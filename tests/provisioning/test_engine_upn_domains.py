"""A joiner whose username is on a federated domain of the Entra tenant (Graph creates a user
there only with onPremisesImmutableId, which on-premises AD sync holds) or on a domain the
tenant has not verified: the dry run says so before anything is sent, and a job started
anyway fails with that message, nothing sent, not retried. The connector reads the tenant's
domains (GET /domains) once per catalogue lifetime. The same check in a bulk file's preview
and a rehire's restore; an app that may not read the domains is warned, and the join goes on.
Real SDK, the sandbox; the jobs through a real worker or run in this process (`drive`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import now as django_now

from portal.models import Role
from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.errors import PermanentError
from provisioning.connectors.factory import connector_for
from provisioning.engine import planner
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.factories import make_person
from tests.provisioning.bulk_support import ONBOARD_HEADER, batch_of, csv_text, upload
from tests.provisioning.conftest import drive, wait_for_job
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


@pytest.mark.django_db
def test_an_app_that_may_not_read_the_domains_is_warned_and_the_join_goes_on(client, on_sandbox):
    """An app without Domain.Read.All (or Directory.Read.All) gets 403 from GET /domains
    (domain-list.md): the form's dry run says the domains went unchecked, and queues anyway."""
    from sandbox.entra.model import ALL_PERMISSIONS

    without = [p for p in ALL_PERMISSIONS if p != "Directory.ReadWrite.All"]
    dirs = make_directories(on_sandbox, "domunread", entra_extra={"app_permissions": without})
    dirs.technician = make_person("tech-domunread", Role.TECHNICIAN, [dirs.tenant])
    client.force_login(dirs.technician)
    url = reverse("onboard_preview", kwargs={"tenant": dirs.tenant.slug})
    data = {"first_name": "Ada", "last_name": "Lovelace", "role_templates": [dirs.template.pk],
            "start_date": timezone.localdate().isoformat()}  # fmt: skip
    body = client.post(url, data, HTTP_HX_REQUEST="true").content.decode()
    assert "Could not read the tenant&#x27;s domains" in body
    assert "grant the app Domain.Read.All" in body
    assert "Create user ada.lovelace@domunread.example" in body and "Ready to queue" in body
    request = joiner(dirs, "domunread.example")
    job = services.request_onboarding(
        dirs.tenant, request, username=request.username, actor="system"
    )
    assert drive(job).status == Job.Status.SUCCEEDED, job.error
    assert dirs.entra_user("ada.lovelace@domunread.example")["accountEnabled"] is True


@pytest.mark.django_db
def test_a_bulk_preview_that_could_not_read_the_domains_says_so_once(client, on_sandbox):
    """As the form's dry run, the file's: a note (the rows still queue), not one per row."""
    from sandbox.entra.model import ALL_PERMISSIONS

    without = [p for p in ALL_PERMISSIONS if p != "Directory.ReadWrite.All"]
    dirs = make_directories(on_sandbox, "bulkunread", entra_extra={"app_permissions": without})
    dirs.technician = make_person("tech-bulkunread", Role.TECHNICIAN, [dirs.tenant])
    client.force_login(dirs.technician)
    rows = [[first, "Lovelace", "Sales", "", "", "", "", "", "", ""] for first in ("Ada", "Bo")]
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert batch.rows_valid == 2
    page = client.get(reverse("bulk_batch", args=[dirs.tenant.slug, batch.pk])).content.decode()
    assert page.count("Could not read the tenant&#x27;s domains") == 1
    assert "grant the app Domain.Read.All" in page


@pytest.mark.django_db
def test_a_bulk_row_on_a_federated_domain_is_flagged_and_never_sent(client, on_sandbox):
    dirs, corp, _ = hybrid(on_sandbox, "fedbulk")
    dirs.technician = make_person("tech-fedbulk", Role.TECHNICIAN, [dirs.tenant])
    client.force_login(dirs.technician)
    rows = [["Ada", "Lovelace", "Sales", "", f"ada.lovelace@{corp}", "", "", "", "", ""],
            ["Alan", "Turing", "Sales", "", "", "", "", "", "", ""]]  # fmt: skip
    batch = batch_of(upload(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    flagged = batch.rows.get(line=2).data["problems"]
    assert [(p["kind"], p["subject"]) for p in flagged] == [("upn_domain", f"ada.lovelace@{corp}")]
    assert f"{corp} is a federated domain" in flagged[0]["message"]
    assert batch.rows.get(line=3).data["problems"] == [] and batch.rows_valid == 1
    page = client.get(reverse("bulk_batch", args=[dirs.tenant.slug, batch.pk])).content.decode()
    assert "Needs a choice" in page and f"{corp} is a federated domain" in page
    client.post(reverse("bulk_start", args=[dirs.tenant.slug, batch.pk]))
    (job,) = batch.jobs.all()
    assert drive(job).status == Job.Status.SUCCEEDED, job.error
    assert dirs.entra_user(f"ada.lovelace@{corp}") is None
    assert dirs.entra_user("alan.turing@fedbulk.example") is not None


@pytest.mark.django_db
def test_a_rehire_on_a_domain_federated_since_they_left_is_stopped_at_dry_run(on_sandbox):
    """Hard-deleted, then rehired: the restore is a new join, so Graph would refuse the
    create on the domain federated meanwhile. The restore's dry run says so; its job fails
    with nothing sent."""
    dirs, corp, _ = hybrid(on_sandbox, "fedrehire")
    with dirs.control() as control:  # federated only later
        url = f"/_sandbox/entra/{dirs.entra_id}/settings"
        control.put(url, json={"federated_domains": []}).raise_for_status()
    request = joiner(dirs, corp)
    job = services.request_onboarding(
        dirs.tenant, request, username=request.username, actor="system"
    )
    assert drive(job).status == Job.Status.SUCCEEDED, job.error
    identity = job.identity
    chosen = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    chosen.delete_after_days = 0
    assert drive(lifecycle.request_offboarding(identity, chosen, actor="system")).status == (
        Job.Status.SUCCEEDED
    )
    deletion = identity.jobs.get(kind=Job.Kind.DELETE)
    lifecycle.start_due_jobs(now=django_now() + timedelta(seconds=1))
    assert drive(deletion).status == Job.Status.SUCCEEDED, deletion.error
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED
    with dirs.control() as control:
        control.put(url, json={"federated_domains": [corp]}).raise_for_status()
    connector = connector_for(dirs.tenant.connections.get())
    bridge.run(connector.domains(fresh=True))  # as once the join's read of them has expired

    ((_, plan, error),) = lifecycle.preview_restore(identity).plans
    assert plan is not None, error
    assert plan.blocked and not plan.steps
    assert f"{corp} is a federated domain" in plan.problems[0].message
    rejoin = drive(lifecycle.request_restore(identity, actor="system"))
    assert rejoin.status == Job.Status.FAILED
    assert rejoin.error.startswith("Nothing was sent.") and "federated domain" in rejoin.error
    assert dirs.entra_user(f"ada.lovelace@{corp}") is None
