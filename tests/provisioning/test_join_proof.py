"""A join that partly fails: the person is Active only once the join's own steps succeeded,
as a leaver is Left only once the leave's did (`lifecycle._join_done`, `_leave_done`). A
later job that reads the account as asked (the periodic check) has not sent what the join
failed on: its first sign-in is a one-shot no read shows. Services, jobs run in this process
(`drive`), the real SDK, the sandbox."""

from __future__ import annotations

import pytest
from django.urls import reverse

from provisioning import services
from provisioning.models import Identity, Job, Step
from sandbox.entra.model import ALL_PERMISSIONS
from tests.provisioning.directories import make_directories
from tests.provisioning.test_first_sign_in import (
    first_sign_in_steps,
    manager_of,
    onboard,
    set_policy,
)
from tests.provisioning.test_quarantine_breaker import drive

pytestmark = pytest.mark.django_db


# The sandbox's default app permissions, and the one that edits the tenant's TAP policy, so
# that the test can fix the cause as the directory's admin would.
PERMISSIONS = [*ALL_PERMISSIONS, "Policy.ReadWrite.AuthenticationMethod"]


def status_of(client, identity: Identity) -> str:
    url = reverse(
        "identity_detail", kwargs={"tenant": identity.tenant.slug, "identity_id": identity.pk}
    )
    page = client.get(url).content.decode()
    heading = page[page.index("<h1>") : page.index("</h1>")]
    return heading.split('class="badge')[1].split(">")[1].split("<")[0]


def test_a_partly_failed_join_keeps_the_person_a_joiner_when_a_later_check_reads_them_so(
    on_sandbox, client, msp_admin, mailoutbox, django_capture_on_commit_callbacks
):
    """The directory refuses the joiner's Temporary Access Pass (600 minutes, above its
    maximum of 480); the rest of the join is done. The periodic check reads the account as
    asked and succeeds, and does not ask for the pass again: the person stays a Joiner, as
    the join's page says Partially failed (they became Active). A retry of the join, the
    directory's policy fixed, issues the pass and makes them Active."""
    dirs = make_directories(on_sandbox, "joinhalf", entra_extra={"app_permissions": PERMISSIONS})
    manager = manager_of(dirs)
    set_policy(dirs, entra_method="tap", tap_lifetime_minutes=600)
    with django_capture_on_commit_callbacks(execute=True):
        join = drive(onboard(dirs, manager.username))
    assert join.status == Job.Status.PARTIAL
    identity = Identity.objects.get(pk=join.identity_id)
    assert identity.status == Identity.Status.JOINER

    check = Job.objects.create(tenant=dirs.tenant, identity=identity, kind=Job.Kind.RECONCILE)
    with django_capture_on_commit_callbacks(execute=True):
        assert drive(check).status == Job.Status.SUCCEEDED  # the account is as asked

    identity.refresh_from_db()
    assert identity.status == Identity.Status.JOINER  # not Active: the join did not finish
    client.force_login(msp_admin)
    assert status_of(client, identity) == "Joiner"
    assert mailoutbox == []  # nobody got a first sign-in

    # The cause fixed in the directory: its TAP policy allows the portal's 600 minutes.
    path = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
    raised = {"maximumLifetimeInMinutes": 720}
    assert dirs.graph("PATCH", f"{path}/TemporaryAccessPass", raised).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        services.retry_failed_steps(join, actor=msp_admin)
        join = drive(join)

    assert join.status == Job.Status.SUCCEEDED, [
        s
        for s in join.steps.values_list("action", "status", "last_error", "params")
        if s[1] != "succeeded"
    ]
    assert [s.status for s in first_sign_in_steps(join)] == [Step.Status.SUCCEEDED]
    identity.refresh_from_db()
    assert identity.status == Identity.Status.ACTIVE
    assert status_of(client, identity) == "Active"
