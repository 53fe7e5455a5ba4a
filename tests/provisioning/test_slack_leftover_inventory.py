"""polish3 (after strict23): Slack keeps a user the portal deletes, deactivated. After a hard
delete, the inventory shows that leftover account as what it is: the deleted person's,
sign-in blocked, not an account nobody manages (a takeover candidate), not drift.

Checked and found right; this test keeps it so (it passed on the code as it was)."""

import httpx
import pytest

from provisioning.inventory import service
from provisioning.inventory.models import Account, Drift, Person
from provisioning.inventory.queries_drift import unmanaged_people
from provisioning.models import DirectoryAccount, Identity
from tests.provisioning.directories import make_directories
from tests.provisioning.scim_apps import connect, make_app

pytestmark = pytest.mark.django_db


def test_slacks_deactivated_account_of_a_deleted_person_is_theirs_and_disabled(on_sandbox, client):
    dirs = make_directories(on_sandbox, "leftover")
    app = make_app(on_sandbox, "slack", groups=["general"])
    connection = connect(dirs.tenant, app, "Slack")
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    user_id = app.add_user(username, "Ada", "Lovelace")
    deleted = httpx.delete(
        f"{app.base_url}/Users/{user_id}",
        headers={"Authorization": f"Bearer {app.token}"},
        verify=str(app.server.ca),
    )  # the hard delete's DELETE: Slack deactivates
    assert deleted.status_code == 204 and app.user(username)["active"] is False
    ada = Identity.objects.create(
        tenant=dirs.tenant, first_name="Ada", last_name="Lovelace", display_name="Ada Lovelace",
        username=username, email=username, status=Identity.Status.DELETED,
    )  # fmt: skip
    # The deletion job clears the link (a connector that does not soft-delete reads no more).
    DirectoryAccount.objects.create(identity=ada, connection=connection, remote_id="")

    assert service.refresh(connection, sleep=lambda seconds: None).state == "idle"

    account = Account.objects.get(connection=connection, remote_id=user_id)
    person = Person.objects.get(pk=account.person_id)
    assert person.identity_id == ada.pk and not person.enabled and not account.enabled
    assert not unmanaged_people(dirs.tenant).exists()
    assert not Drift.objects.filter(tenant=dirs.tenant).exists()
