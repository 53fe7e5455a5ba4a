"""The account's row as the steps write it: inserted with the intent of the person's first
steps in a directory (one statement with it on PostgreSQL), its new remote id written with
the steps' outcomes, and the inventory's question about that id (whose person holds the
account, if an inventory read saw it first) asked in the same statement."""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.engine import steps as steps_module
from provisioning.engine.tasks import run_job
from provisioning.inventory.models import Account, Person
from provisioning.models import DirectoryAccount, Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)


def onboard(dirs) -> Job:
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    username = f"ada.lovelace@{dirs.tenant.primary_domain}"
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def test_an_account_the_inventory_read_before_its_id_was_recorded_goes_to_the_person(
    on_sandbox, monkeypatch
):
    """An inventory cycle reads the directory between the create and the engine's record of
    the new id, and files the account under a person of its own (its key matched nobody):
    the record of the id takes it to the identity's person, in the same transaction."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"owner{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    real = steps_module.write_outcomes
    read_first = {}

    def inventory_read_meanwhile(job, account, steps, settled):
        if steps[0].action == "create_user":
            stranger = Person.objects.create(tenant=dirs.tenant, key="unmatched@elsewhere.test")
            read_first["account"] = Account.objects.create(
                tenant=dirs.tenant,
                connection=account.connection,
                remote_id=account.remote_id,  # the id the create has just returned
                username="unmatched@elsewhere.test",
                person=stranger,
            )
        return real(job, account, steps, settled)

    monkeypatch.setattr(steps_module, "write_outcomes", inventory_read_meanwhile)
    join = drive(onboard(dirs))

    assert join.status == Job.Status.SUCCEEDED, join.error
    read_first["account"].refresh_from_db()
    assert read_first["account"].person.identity_id == join.identity_id
    assert not Person.objects.filter(key="unmatched@elsewhere.test").exists()


def test_an_account_row_made_since_the_run_read_the_person_is_the_one_the_steps_use(
    on_sandbox, monkeypatch
):
    """The person had no account row in the directory when the run read them; one is made
    before the create's intent (an adoption, say). The intent's insert finds it taken and
    the run uses that row: one row, with the new id."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"adopt{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    real = steps_module.mark_running

    def made_meanwhile(job, steps, *account):
        if steps[0].action == "create_user":
            DirectoryAccount.objects.get_or_create(
                identity_id=job.identity_id, connection=steps[0].connection
            )
        return real(job, steps, *account)

    monkeypatch.setattr(steps_module, "mark_running", made_meanwhile)
    join = drive(onboard(dirs))

    assert join.status == Job.Status.SUCCEEDED, join.error
    (row,) = DirectoryAccount.objects.filter(identity_id=join.identity_id)
    created = join.steps.get(action="create_user")
    assert row.remote_id == created.result["user_id"] and row.created_remotely_at
