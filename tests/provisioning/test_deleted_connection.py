"""Deleting a directory connection takes its id off every person's `Identity.directories`,
in the deletion's transaction; a list emptied so stays empty (managed in no directory, not
in every one); and what reads a list written before ignores the ids of deleted connections."""

from __future__ import annotations

import pytest
from django.db import transaction

from portal.audit.models import AuditEvent
from provisioning import queries
from provisioning.engine.desired import desired_for
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity

pytestmark = pytest.mark.django_db

GONE = 987_654  # the id of a connection deleted before the lists were kept clean


def person(alpha, name: str, directories) -> Identity:
    domain = alpha.tenant.primary_domain
    return Identity.objects.create(
        tenant=alpha.tenant,
        first_name=name.title(),
        last_name="Listed",
        display_name=f"{name.title()} Listed",
        username=f"{name}@{domain}",
        email=f"{name}@{domain}",
        status=Identity.Status.ACTIVE,
        directories=directories,
    )


def test_deleting_a_connection_takes_its_id_off_every_list(alpha):
    entra, okta = alpha.connection, alpha.okta_connection
    both = person(alpha, "bo", [entra.pk, okta.pk])
    okta_only = person(alpha, "oz", [okta.pk])
    okta_id = okta.pk

    okta.delete()

    both.refresh_from_db()
    okta_only.refresh_from_db()
    alpha.identity.refresh_from_db()
    assert both.directories == [entra.pk]
    # Managed in no directory now, not in every one: nothing is created in Entra for Oz
    # unless a technician adds them there (their page offers it).
    assert okta_only.directories == []
    assert not desired_for(okta_only, entra).managed_here
    assert queries.managed_in(okta_only) == []
    assert alpha.identity.directories is None  # managed everywhere: still so
    removed = AuditEvent.objects.filter(action="identity.directory_removed")
    assert {e.target_id for e in removed} == {str(both.pk), str(okta_only.pk)}
    of_both = removed.get(target_id=str(both.pk))
    assert (of_both.before, of_both.after) == (
        {"directories": [entra.pk, okta_id]},
        {"directories": [entra.pk], "removed": "Okta"},
    )


def test_a_deletion_rolled_back_leaves_the_lists_as_they_were(alpha):
    okta_id = alpha.okta_connection.pk
    okta_only = person(alpha, "oz", [okta_id])

    with pytest.raises(RuntimeError), transaction.atomic():
        alpha.okta_connection.delete()
        raise RuntimeError("the deletion's transaction fails later")

    okta_only.refresh_from_db()
    assert okta_only.directories == [okta_id]


def test_adding_to_a_directory_drops_the_ids_of_deleted_connections(alpha):
    entra, okta = alpha.connection, alpha.okta_connection
    someone = person(alpha, "al", [entra.pk, GONE])

    lifecycle.add_to_directory(someone, okta, actor=alpha.technician)

    someone.refresh_from_db()
    assert someone.directories == [entra.pk, okta.pk]
    event = AuditEvent.objects.get(action="identity.directory_added", target_id=str(someone.pk))
    assert event.before == {"directories": [entra.pk]}


def test_a_list_of_deleted_connections_only_is_managed_nowhere(alpha):
    nowhere = person(alpha, "no", [GONE])
    assert queries.managed_in(nowhere) == []
    assert not desired_for(nowhere, alpha.connection).managed_here
