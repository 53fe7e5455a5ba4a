"""Races the convergence tests do not draw, each played in this process in the order that
breaks it: one directory account is one person's, whatever order two ways in took."""

from __future__ import annotations

import time
import uuid

import pytest
from django.db import IntegrityError

from provisioning import services
from provisioning.engine.tasks import run_job
from provisioning.inventory import adoption, service
from provisioning.inventory.models import Cursor, Person
from provisioning.models import DirectoryAccount, Identity, Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db


def read_inventory(dirs) -> None:
    for connection in dirs.tenant.connections.all():
        cursor = service.refresh(connection, sleep=time.sleep)
        assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor.last_error


def test_an_adoption_and_a_join_of_the_same_upn_never_make_two_people_of_one_account(
    on_sandbox, monkeypatch
):
    """An admin made Ada in Entra as Ada.Lovelace@… (UPNs are case-insensitive); the
    inventory read her. A technician's onboarding form checked ada.lovelace@… free (no one in
    the portal held it) while another technician adopted her account; the adoption committed
    first, then the onboarding. Two people in the portal would then both own the one account
    (the join links it: same names), each job giving it their own access and a leave of one
    blocking the other's sign-in. The second to commit must be refused, as one of the same
    case is (the view answers "was just taken")."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, f"race{uuid.uuid4().hex[:6]}", licenses=[], apps=[])
    domain = dirs.tenant.primary_domain
    user = dirs.add_entra_user(f"Ada.Lovelace@{domain}", "Ada", "Lovelace")
    read_inventory(dirs)
    person = Person.objects.get(tenant=dirs.tenant, username__iexact=f"ada.lovelace@{domain}")

    adopted = adoption.adopt(person, [dirs.template], "system", confirm_changes=True)

    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    with pytest.raises(IntegrityError):  # what the onboarding view turns into "just taken"
        join = services.request_onboarding(
            dirs.tenant, request, username=f"ada.lovelace@{domain}", actor="system"
        )
        drive(join)
    assert list(Identity.objects.filter(tenant=dirs.tenant)) == [adopted]
    holders = DirectoryAccount.objects.filter(remote_id=user["id"]).values_list("identity_id")
    assert list(holders) == [(adopted.pk,)]
    assert Job.objects.filter(tenant=dirs.tenant, kind=Job.Kind.JOIN).count() == 0
