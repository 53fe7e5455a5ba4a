"""A leave that partly fails: the person's page says what is still held, per directory, and
never that the offboarding is done. Services, a real worker, the real SDK, the sandbox."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from provisioning import periodic, services
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard

pytestmark = pytest.mark.django_db(transaction=True)


def without_directory_roles(dirs) -> list[dict]:
    """The portal's app loses its User Administrator role: Graph refuses its password resets
    (403 Authorization_RequestDenied), a permanent failure, while the rest of a leave goes on.
    Returns the assignments taken away."""
    client_id = dirs.tenant.connections.get(kind="entra").client_id
    own = dirs.graph("GET", f"/servicePrincipals(appId='{client_id}')").json()
    query = f"/roleManagement/directory/roleAssignments?$filter=principalId eq '{own['id']}'"
    taken = dirs.graph("GET", query).json()["value"]
    for assignment in taken:
        path = f"/roleManagement/directory/roleAssignments/{assignment['id']}"
        assert dirs.graph("DELETE", path).status_code == 204
    return taken


def give_back(dirs, assignments: list[dict]) -> None:
    for a in assignments:
        body = {k: a[k] for k in ("principalId", "roleDefinitionId", "directoryScopeId")}
        created = dirs.graph("POST", "/roleManagement/directory/roleAssignments", body)
        assert created.status_code == 201, created.text


def test_a_partly_failed_leave_says_what_is_still_held_and_never_done(
    on_sandbox, worker, client, msp_admin
):
    dirs = make_directories(on_sandbox, "leavehalf")
    joined = wait_for_job(onboard(dirs).pk)
    assert joined.status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=joined.identity_id)
    taken = without_directory_roles(dirs)

    chosen = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    leave = wait_for_job(lifecycle.request_offboarding(identity, chosen, actor="system").pk)

    assert leave.status == Job.Status.PARTIAL
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER
    client.force_login(msp_admin)
    url = reverse(
        "identity_detail", kwargs={"tenant": dirs.tenant.slug, "identity_id": identity.pk}
    )
    page = client.get(url).content.decode()
    card = page[page.index('id="lifecycle"') :]
    card = card[: card.index("</section>")]
    assert "The offboarding did not finish" in card
    assert "Still held" in card and "Reset password" in card and "Microsoft Entra ID" in card
    assert "Removed at offboarding" not in card  # what went is "removed so far"
    assert "Removed so far" in card and "Staff" in card
    assert reverse("job_detail", kwargs={"job_id": leave.pk}) in card
    restore = reverse(
        "identity_restore", kwargs={"tenant": dirs.tenant.slug, "identity_id": identity.pk}
    )
    assert restore in card  # a leave begun by mistake can be undone though it did not finish
    assert client.get(restore).status_code == 200

    give_back(dirs, taken)  # the cause fixed, the technician retries the failed step
    runs = leave.runs
    services.retry_failed_steps(leave, actor=msp_admin)
    leave = wait_for_job(leave.pk)

    assert leave.status == Job.Status.SUCCEEDED
    # In one run: its read is judged by its own removals, not by the join's additions they
    # undid (which it would wait out the replication window to see).
    assert leave.runs == runs + 1
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    # Steps that succeeded are not repeated: each one-shot ran once, the retried one included.
    one_shots = Counter(leave.steps.filter(status="succeeded").values_list("action", flat=True))
    assert one_shots["reset_password"] == 1 and one_shots["revoke_sessions"] == 1
    assert "The offboarding did not finish" not in client.get(url).content.decode()


def test_the_person_page_and_the_audit_trail_carry_the_proof_of_a_leave(
    on_sandbox, worker, client, msp_admin
):
    dirs = make_directories(on_sandbox, "leaveproof", kinds=("entra", "okta"))
    joined = wait_for_job(onboard(dirs).pk)
    identity = Identity.objects.get(pk=joined.identity_id)

    chosen = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    leave = wait_for_job(lifecycle.request_offboarding(identity, chosen, actor=msp_admin).pk)

    assert leave.status == Job.Status.SUCCEEDED
    client.force_login(msp_admin)
    url = reverse(
        "identity_detail", kwargs={"tenant": dirs.tenant.slug, "identity_id": identity.pk}
    )
    page = client.get(url).content.decode()
    proof = page[page.index('id="leave-proof"') :]
    proof = proof[: proof.index("</section>")]
    assert f"job #{leave.pk}" in proof and f"asked by {msp_admin.get_full_name()}" in proof
    assert "Read back " in proof
    directories = proof.split("<h4>")[1:]
    assert [d.split("</h4>")[0] for d in directories] == ["Microsoft Entra ID", "Okta"]
    entra, okta = directories
    assert "SPE_E3" in entra and "Salesforce" in entra and "Staff" in entra
    assert "Salesforce" in okta and "Staff" in okta and "SPE_E3" not in okta
    finish = AuditEvent.objects.get(action="job.finish", job_id=leave.pk)
    read_back = finish.after["read_back"]
    assert read_back["at"] == leave.verification["read_at"]
    by_directory = {d["directory"]: d for d in read_back["directories"]}
    assert set(by_directory) == {"Microsoft Entra ID", "Okta"}
    entra = by_directory["Microsoft Entra ID"]
    assert entra["enabled"] is False and entra["licenses"] == entra["apps"] == 0
    assert entra["groups"] == 1  # Sales (dynamic): its rule's, left to the directory
    assert entra["kept"] == [
        "“Sales (dynamic)” is rule-based: the directory manages its members, so it stays."
    ]
    job_page = client.get(reverse("job_detail", kwargs={"job_id": leave.pk})).content.decode()
    verification = job_page[job_page.index('id="job-verification"') :]
    assert "Kept: “Sales (dynamic)” is rule-based" in verification
    assert by_directory["Okta"]["enabled"] is False and by_directory["Okta"]["apps"] == 0


def test_a_partly_failed_leave_stays_unfinished_when_a_later_check_reads_the_leaver_so(
    on_sandbox, worker, client, msp_admin
):
    """The password reset is refused (the app lost its directory role), the rest of the leave
    done. The periodic check reads the leaver disabled and stripped and succeeds: the leave's
    own step is still not done, so the person stays a leaver, no hard delete is scheduled,
    and the page still says the offboarding did not finish (converge22: the check made them
    Left and scheduled the delete, the session and password never dealt with by a retry)."""
    dirs = make_directories(on_sandbox, "leavecheck")
    joined = wait_for_job(onboard(dirs).pk)
    identity = Identity.objects.get(pk=joined.identity_id)
    without_directory_roles(dirs)
    chosen = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    leave = wait_for_job(lifecycle.request_offboarding(identity, chosen, actor="system").pk)
    assert leave.status == Job.Status.PARTIAL

    later = timezone.now() + timedelta(hours=13)
    assert periodic.reconcile_due_people(now=later) == 1
    check = Job.objects.get(identity=identity, kind=Job.Kind.RECONCILE)
    assert wait_for_job(check.pk).status == Job.Status.SUCCEEDED  # the state is as asked

    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER
    assert not identity.jobs.filter(kind=Job.Kind.DELETE).exists()
    client.force_login(msp_admin)
    url = reverse(
        "identity_detail", kwargs={"tenant": dirs.tenant.slug, "identity_id": identity.pk}
    )
    card = client.get(url).content.decode()
    assert "The offboarding did not finish" in card and "Reset password" in card
