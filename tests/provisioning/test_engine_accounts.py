"""The database's record of a directory account (provisioning/engine/accounts.py): a
joiner's row is written once, with its directory id, by the create's outcome."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

from provisioning.engine import accounts
from provisioning.models import DirectoryAccount
from tests.factories import make_tenant_world


@pytest.mark.django_db
def test_a_new_row_is_inserted_with_the_created_id_and_tells_the_inventory():
    world = make_tenant_world("acc-new", "Acc New")
    account = DirectoryAccount(identity=world.identity, connection=world.connection)
    told = []

    def heard(sender, instance, **kwargs):
        told.append((instance.pk, instance.remote_id, kwargs.get("update_fields")))

    post_save.connect(heard, sender=DirectoryAccount, dispatch_uid="test-acc-new")
    try:
        accounts.save_fields(account, set(accounts._link(account, "remote-1", created=True)))
    finally:
        post_save.disconnect(sender=DirectoryAccount, dispatch_uid="test-acc-new")

    row = DirectoryAccount.objects.get(identity=world.identity, connection=world.connection)
    assert (account.pk, row.remote_id) == (row.pk, "remote-1")
    assert row.created_remotely_at is not None and row.managed == {}
    assert told == [(row.pk, "remote-1", None)]  # as save() tells it: the inventory's hook


@pytest.mark.django_db
def test_a_row_made_since_the_run_read_the_accounts_takes_the_created_id():
    world = make_tenant_world("acc-made", "Acc Made")
    made = DirectoryAccount.objects.create(
        identity=world.identity,
        connection=world.connection,
        managed={"groups": [{"id": "g1", "name": "Staff"}]},
    )
    account = DirectoryAccount(identity=world.identity, connection=world.connection)

    accounts.save_fields(account, set(accounts._link(account, "remote-2", created=True)))

    row = DirectoryAccount.objects.get(pk=made.pk)
    assert account.pk == made.pk
    assert row.remote_id == "remote-2" and row.created_remotely_at is not None
    assert row.managed == made.managed  # what the create did not change stays
