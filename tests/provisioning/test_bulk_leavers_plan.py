"""polish3: a CSV offboarding's preview shows, per valid row, what the person loses in each
directory, as their page's offboarding dry run says it; before, only onboarding rows had a
plan and a technician confirmed 40 leavers blind."""

import pytest
from django.urls import reverse

from provisioning import seats
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity
from tests.provisioning.bulk_support import (
    OFFBOARD_OPTIONS,
    batch_of,
    csv_text,
    sandbox_tenant,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def leavers(on_sandbox):
    """Three people with Entra accounts, each in the Finance group; one more not managed."""
    dirs = sandbox_tenant(on_sandbox, "leavers")
    domain = dirs.tenant.primary_domain
    group = dirs.graph(
        "POST",
        "/groups",
        {"displayName": "Finance", "mailNickname": "finance", "securityEnabled": True,
         "mailEnabled": False},
    )  # fmt: skip
    assert group.status_code == 201, group.text
    connection = dirs.tenant.connections.get(kind="entra")
    dirs.people = []
    for n in range(3):
        username = f"leaver{n}@{domain}"
        user = dirs.add_entra_user(username, "Leaver", str(n))
        member = {"@odata.id": f"{on_sandbox.url}/v1.0/directoryObjects/{user['id']}"}
        added = dirs.graph("POST", f"/groups/{group.json()['id']}/members/$ref", member)
        assert added.status_code == 204, added.text
        person = Identity.objects.create(
            tenant=dirs.tenant, first_name="Leaver", last_name=str(n), display_name=f"Leaver {n}",
            username=username, email=username, status=Identity.Status.ACTIVE,
        )  # fmt: skip
        DirectoryAccount.objects.create(
            identity=person, connection=connection, remote_id=user["id"]
        )
        dirs.people.append(person)
    return dirs


def test_each_leaver_row_shows_what_the_person_loses_as_their_page_says(client, leavers):
    text = csv_text(["username", "leave_at"], [[p.username, ""] for p in leavers.people])
    client.force_login(leavers.technician)
    before = leavers.stats("entra")["calls"]
    batch = batch_of(upload(client, leavers.tenant, text, kind="offboard", **OFFBOARD_OPTIONS))
    calls = {k: n - before.get(k, 0) for k, n in leavers.stats("entra")["calls"].items()}
    rows = {row.identity_id: row for row in batch.rows.all()}
    options = lifecycle.OffboardingOptions.from_dict(batch.options["offboard"])
    for person in leavers.people:
        expected = [
            [connection.label, seats.operations_in_words(plan), connection.kind]
            for connection, plan, _ in lifecycle.preview_offboarding(person, options).plans
        ]
        plan = rows[person.pk].data.get("plan")
        assert plan == expected
        words = " ".join(plan[0][1])
        assert "Finance" in words and "Block sign-in" in words, words
    url = reverse("bulk_batch", kwargs={"tenant": leavers.tenant.slug, "batch_id": batch.pk})
    page = client.get(url).content.decode()
    assert page.count("Plan: Microsoft Entra ID (4 steps)") == 3
    # Bounded: one batched read of each person's account (their page's dry run reads the
    # same), the directory's catalogues once for the file.
    assert calls["POST /v1.0/$batch"] == 3
    assert calls["GET /v1.0/groups"] == 1 and calls["GET /v1.0/subscribedSkus"] == 1, calls
