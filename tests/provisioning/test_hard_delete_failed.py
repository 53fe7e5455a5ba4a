"""A hard delete that fails: the portal never says Deleted while the directory still holds
the account, and a retry once the cause is fixed ends with it gone. Services, a real worker,
the real SDKs, the sandbox (converge22)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning import services
from provisioning.events.models import Event
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job
from tests.api.conftest import ApiClient, token_for
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_lifecycle_e2e import offboard, onboard

pytestmark = pytest.mark.django_db(transaction=True)


def made_global_admin(dirs, upn: str) -> str:
    """The person is given Global Administrator: Graph refuses the portal's app (a User
    Administrator) a delete of them, 403 Authorization_RequestDenied, a permanent failure
    (learn.microsoft.com/graph/api/user-delete: "In app-only scenarios, the User.ReadWrite.All
    application permission isn't enough privilege to delete users with privileged
    administrative roles"). Returns the assignment's id."""
    definitions = "/roleManagement/directory/roleDefinitions"
    query = f"{definitions}?$filter=displayName eq 'Global Administrator'"
    (definition,) = dirs.graph("GET", query).json()["value"]
    body = {
        "principalId": dirs.entra_user(upn)["id"],
        "roleDefinitionId": definition["id"],
        "directoryScopeId": "/",
    }
    created = dirs.graph("POST", "/roleManagement/directory/roleAssignments", body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def status_badge(client, identity: Identity) -> str:
    url = reverse(
        "identity_detail", kwargs={"tenant": identity.tenant.slug, "identity_id": identity.pk}
    )
    page = client.get(url).content.decode()
    heading = page[page.index("<h1>") : page.index("</h1>")]
    return heading.split('class="badge')[1].split(">")[1].split("<")[0]


def lifecycle_card(client, identity: Identity) -> str:
    url = reverse(
        "identity_detail", kwargs={"tenant": identity.tenant.slug, "identity_id": identity.pk}
    )
    page = client.get(url).content.decode()
    card = page[page.index('id="lifecycle"') :]
    return card[: card.index("</section>")]


def needs_attention(client) -> str:
    """The dashboard's "Failures needing attention", "" when it lists none."""
    page = client.get(reverse("dashboard")).content.decode()
    if "Failures needing attention" not in page:
        return ""
    listed = page[page.index("Failures needing attention") :]
    return listed[: listed.index("</section>")]


def people_card(client, identity: Identity) -> str:
    page = client.get(reverse("client_home", kwargs={"tenant": identity.tenant.slug}))
    page = page.content.decode()
    people = page[page.index('id="people"') :]
    return people[: people.index("</section>")]


def people_list_row(client, identity: Identity) -> str:
    people = people_card(client, identity)
    row = people[people.index(identity.display_name) :]
    return row[: row.index("</tr>")]


def assert_no_rehire_beside_the_account(client, api, identity: Identity, deletion: Job) -> None:
    """A rehire through the API, the service or the page's URL (its button is hidden) is
    refused in words, and no join starts beside the disabled account (leftover1: the API and
    the service queued a join of a new account)."""
    joins = identity.jobs.filter(kind=Job.Kind.JOIN).count()
    refused = api.post(f"/api/v1/people/{identity.pk}/restore")
    assert refused.status_code == 409, refused.content
    said = refused.json()["detail"]
    assert f"delete job #{deletion.pk} failed" in said and "Retry" in said
    with pytest.raises(ValueError, match="did not finish"):
        lifecycle.request_restore(identity, actor="system")
    restore = reverse(
        "identity_restore", kwargs={"tenant": identity.tenant.slug, "identity_id": identity.pk}
    )
    page = client.post(restore, follow=True).content.decode()
    assert "The hard delete of" in page and "did not finish" in page
    assert identity.jobs.filter(kind=Job.Kind.JOIN).count() == joins
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED


def test_a_failed_hard_delete_is_not_shown_deleted_and_a_retry_deletes(
    on_sandbox, worker, client, msp_admin
):
    dirs = make_directories(on_sandbox, "delfail")
    identity = onboard(dirs.tenant, "Dora", "Delfail", [dirs.template])
    upn = identity.username
    assert offboard(identity, delete_after_days=0).status == Job.Status.SUCCEEDED
    deletion = identity.jobs.get(kind=Job.Kind.DELETE)

    assignment = made_global_admin(dirs, upn)
    assert lifecycle.start_due_jobs(now=timezone.now() + timezone.timedelta(seconds=1)) == 1
    deletion = wait_for_job(deletion.pk)

    assert deletion.status == Job.Status.FAILED
    steps = dict(deletion.steps.values_list("action", "status"))
    # The purge is not tried after the refused soft delete: it found nothing in deleted items
    # and read as done, so that the retry below left the account soft-deleted.
    assert steps == {"delete_user": "failed", "purge_user": "skipped"}
    assert dirs.entra_user(upn) is not None  # the disabled account is still there
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED  # still the desired state
    client.force_login(msp_admin)
    assert status_badge(client, identity) == "Delete failed"
    card = lifecycle_card(client, identity)
    assert "The hard delete did not finish" in card
    assert reverse("job_detail", kwargs={"job_id": deletion.pk}) in card
    assert ">Deleted<" not in people_list_row(client, identity)
    assert "Delete failed" in people_list_row(client, identity)
    offboard_page = reverse(
        "offboard", kwargs={"tenant": identity.tenant.slug, "identity_id": identity.pk}
    )
    said = client.get(offboard_page, follow=True).content.decode()
    assert "account was deleted" not in said and "account is being deleted" in said
    api = ApiClient(token_for(msp_admin))
    person = api.get(f"/api/v1/people/{identity.pk}").json()
    assert person["status"] == "deleted"  # asked for: the documented `deletion` says how far
    assert person["deletion"]["state"] == "failed" and person["deletion"]["job_id"] == deletion.pk
    assert "refused to delete the account" in person["deletion"]["error"]
    assert "refused to delete the account" in card
    assert_no_rehire_beside_the_account(client, api, identity, deletion)
    # Made when the leave was verified: with the default grace, a month before it ran. The
    # dashboard read its failures by that date only, so it never listed this one.
    Job.objects.filter(pk=deletion.pk).update(created_at=timezone.now() - timedelta(days=31))
    attention = needs_attention(client)
    assert f"#{deletion.pk}" in attention and identity.display_name in attention
    assert Event.objects.filter(kind="job.failed", data__job__id=deletion.pk).exists()  # alerts
    Job.objects.filter(pk=deletion.pk).update(finished_at=timezone.now() - timedelta(days=20))
    assert f"#{deletion.pk}" in needs_attention(client)  # out of the window, still held

    path = f"/roleManagement/directory/roleAssignments/{assignment}"
    assert dirs.graph("DELETE", path).status_code == 204  # the cause fixed
    services.retry_failed_steps(deletion, actor=msp_admin)
    deletion = wait_for_job(deletion.pk)

    assert deletion.status == Job.Status.SUCCEEDED, list(deletion.steps.values_list("last_error"))
    assert dirs.entra_user(upn) is None  # purged, not only soft-deleted
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED
    assert status_badge(client, identity) == "Deleted"
    assert "The hard delete did not finish" not in lifecycle_card(client, identity)
    assert identity.display_name not in people_card(client, identity)  # gone: as before
    assert api.get(f"/api/v1/people/{identity.pk}").json()["deletion"] is None
    assert f"#{deletion.pk}" not in needs_attention(client)


def test_a_running_hard_delete_is_shown_deleting(on_sandbox, client, msp_admin):
    """The delete's job is running (the worker has not finished it): Deleting, not Deleted."""
    dirs = make_directories(on_sandbox, "delrun")
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Rita",
        last_name="Running",
        display_name="Rita Running",
        username=f"rita@{dirs.tenant.primary_domain}",
        status=Identity.Status.DELETED,  # as start_job sets it when the delete starts
    )
    deletion = Job.objects.create(
        tenant=dirs.tenant, identity=identity, kind=Job.Kind.DELETE, status=Job.Status.RUNNING
    )

    client.force_login(msp_admin)
    assert status_badge(client, identity) == "Deleting"
    assert "The hard delete is under way" in lifecycle_card(client, identity)
    assert "Deleting" in people_list_row(client, identity)
    api = ApiClient(token_for(msp_admin))
    person = api.get(f"/api/v1/people/{identity.pk}").json()
    assert person["deletion"] == {"state": "deleting", "job_id": deletion.pk, "error": ""}

    Job.objects.filter(pk=deletion.pk).update(status=Job.Status.SUCCEEDED)  # the read showed it
    assert status_badge(client, identity) == "Deleted"
    assert api.get(f"/api/v1/people/{identity.pk}").json()["deletion"] is None
