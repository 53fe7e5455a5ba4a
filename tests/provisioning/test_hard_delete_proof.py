"""A hard delete in Entra is read back from deleted items, not taken from the purge's answer:
`DELETE /directory/deletedItems/{id}` answering 404 reads as done (it may be gone already),
and `GET /users/{id}` is 404 for a user in deleted items as for a purged one. Services, jobs
run in this process (`drive`), the real SDK, the sandbox."""

from __future__ import annotations

import pytest
from django.utils import timezone

from provisioning.engine import executor
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard
from tests.provisioning.test_quarantine_breaker import drive

pytestmark = pytest.mark.django_db


def in_deleted_items(dirs, user_id: str) -> int:
    """The status Graph gives `GET /directory/deletedItems/{id}`: 200 while the user waits
    there (restorable), 404 once purged."""
    return dirs.graph("GET", f"/directory/deletedItems/{user_id}").status_code


def test_a_user_restored_and_deleted_again_around_the_purge_is_purged_before_the_job_succeeds(
    on_sandbox, monkeypatch
):
    """An admin restores the leaver from deleted items just before the portal's purge, and
    deletes them again (soft) just after it: the purge answered 404 and read as done. The
    job's read-back finds the user in deleted items and purges it; before, the job succeeded
    and the account stayed restorable for 30 days."""
    dirs = make_directories(on_sandbox, "delproof", kinds=("entra",))
    join = drive(onboard(dirs, "Pia", "Proof"))
    assert join.status == Job.Status.SUCCEEDED
    identity = Identity.objects.get(pk=join.identity_id)
    upn = identity.username
    user_id = dirs.entra_user(upn)["id"]
    chosen = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    chosen.delete_after_days = 0
    leave = drive(lifecycle.request_offboarding(identity, chosen, actor="system"))
    assert leave.status == Job.Status.SUCCEEDED
    deletion = identity.jobs.get(kind=Job.Kind.DELETE)
    # Joined long ago, as a leaver whose grace period ran: a 404 is no replication lag.
    identity.accounts.update(created_remotely_at=timezone.now() - timezone.timedelta(days=31))
    assert lifecycle.start_due_jobs(now=timezone.now() + timezone.timedelta(seconds=1)) == 1

    real = executor.apply_batch
    meddled = []

    def admin_around_the_purge(job, batch, account):
        if batch[0].action != "purge_user" or meddled:
            return real(job, batch, account)
        restored = dirs.graph("POST", f"/directory/deletedItems/{user_id}/restore")
        assert restored.status_code == 200, restored.text
        outcome = real(job, batch, account)
        assert dirs.graph("DELETE", f"/users/{user_id}").status_code == 204
        if Step.objects.get(pk=batch[0].pk).status == Step.Status.SUCCEEDED:
            meddled.append(batch[0].pk)  # sent (a run may wait instead, then send it later)
        return outcome

    monkeypatch.setattr(executor, "apply_batch", admin_around_the_purge)
    deletion = drive(deletion)

    assert meddled, "the purge was never sent"
    assert deletion.status == Job.Status.SUCCEEDED, deletion.error
    assert in_deleted_items(dirs, user_id) == 404  # purged: nothing left to restore
    assert dirs.entra_user(upn) is None
    purges = deletion.steps.filter(action="purge_user", status="succeeded").count()
    assert purges == 2  # the one the 404 answered, and the one the read-back asked for
    identity.refresh_from_db()
    assert identity.status == Identity.Status.DELETED and identity.deletion is None
