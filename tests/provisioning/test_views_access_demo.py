"""The demo's access requests: seeded from the demo directories in the sandbox (their ids are
read through the connectors), pending for each demo tenant's client admin, and seeded once."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from provisioning.access import queries as queries_access
from provisioning.access import services as ar
from provisioning.demo import PENDING, REQUESTABLES, seed_access, seed_people
from provisioning.models import AccessRequest, RequestableResource
from tenants.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(on_sandbox):
    call_command("seed_demo", verbosity=0)
    seed_people()  # the joiners exist at once; their jobs are not run here
    return get_user_model().objects


def test_each_demo_tenant_gets_requestables_and_pending_requests(demo, client):
    made, filed = seed_access(wait_seconds=10)
    assert (made, filed) == (9, 6)
    for slug, wanted in REQUESTABLES.items():
        resources = RequestableResource.objects.filter(tenant__slug=slug)
        assert sorted(r.name for r in resources) == sorted(w[2] for w in wanted)
        assert all(r.remote_id and r.created_by is None for r in resources)
        admin = demo.get(username=f"ca.{slug}")
        waiting = ar.waiting_for(admin)
        assert sorted(r.identity.first_name for r in waiting) == sorted(p[0] for p in PENDING[slug])
        assert {r.requested_by.username for r in waiting} == {"tech"}
        # each asks for access the person's role does not give them: approving it adds some
        assert all(queries_access.held_already(r.identity, r.resource) == "" for r in waiting)
    vpn = RequestableResource.objects.get(tenant__slug="fabrikam", name="VPN Users")
    assert vpn.connection.kind == "okta" and vpn.time_bound and vpn.max_days == 14
    # a client admin signs in with the demo password and finds them on their home page
    response = client.post(
        reverse("login"), {"username": "ca.contoso", "password": DEMO_PASSWORD}, follow=True
    )
    assert [row["request"].identity.first_name for row in response.context["approvals"]] == [
        "Imogen",
        "Tobias",
    ]
    assert seed_access(wait_seconds=1) == (0, 0)  # once
    assert AccessRequest.objects.count() == 6


def test_without_the_directories_nothing_is_seeded_and_a_later_run_catches_up(demo):
    from tenants.models import DirectoryConnection

    real = list(DirectoryConnection.objects.values_list("pk", "secret_ciphertext"))
    DirectoryConnection.objects.update(secret_ciphertext="unreadable")  # no directory answers
    assert seed_access(wait_seconds=0) == (0, 0)
    for pk, ciphertext in real:
        DirectoryConnection.objects.filter(pk=pk).update(secret_ciphertext=ciphertext)
    assert seed_access(wait_seconds=10) == (9, 6)
