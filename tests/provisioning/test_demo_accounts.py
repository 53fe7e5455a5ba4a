"""The demo history's people get the sandbox accounts their history ends with (a Succeeded
join is a real account, a leaver a disabled, stripped one), the last seat of each licence
stays free for the technician's first joiner, and a little drift is made by hand.

A demo sandbox of its own: the session's demo directories serve other tests, whose seat
counts this seeding would change."""

from __future__ import annotations

import httpx
import pytest
from django.core.management import call_command

from provisioning import demo_accounts
from provisioning.models import DirectoryAccount, Identity
from reports.demo_history import EMPLOYEE_PREFIX, seed_history
from tests.sandbox.server import running_sandbox

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory):
    with running_sandbox(tmp_path_factory.mktemp("demo-accounts-tls"), "--seed", "demo") as server:
        yield server


@pytest.fixture
def seeded(own_sandbox, settings):
    settings.SANDBOX_URL = own_sandbox.url
    settings.SANDBOX_CA_FILE = own_sandbox.ca
    call_command("seed_demo", verbosity=0)
    seed_history()
    return own_sandbox


def graph_users(server, tenant) -> dict[str, dict]:
    """Every user of the tenant's Entra directory, read as an admin would, by UPN."""
    connection = tenant.connections.get(kind="entra")
    with httpx.Client(verify=str(server.ca), base_url=server.url) as http:
        token = http.post(
            f"/{connection.directory_id}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": connection.client_id,
                "client_secret": connection.get_secret(),
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        users, url = {}, "/v1.0/users?$select=id,userPrincipalName,accountEnabled,assignedLicenses"
        while url:
            page = http.get(url, headers=headers).raise_for_status().json()
            users |= {u["userPrincipalName"].lower(): u for u in page["value"]}
            url = page.get("@odata.nextLink", "").replace(server.url, "")
        skus = http.get("/v1.0/subscribedSkus", headers=headers).raise_for_status().json()
    return users, skus["value"]


def test_history_people_get_their_accounts_and_the_last_seats_stay_free(seeded):
    made = demo_accounts.seed_accounts(slugs=("contoso",))
    history = Identity.objects.filter(
        tenant__slug="contoso", employee_id__startswith=EMPLOYEE_PREFIX
    ).select_related("tenant")
    contoso = history.first().tenant
    users, skus = graph_users(seeded, contoso)

    live = history.exclude(status=Identity.Status.DELETED)
    slack = contoso.connections.get(kind="scim")
    in_slack = [
        p
        for p in live
        if any(t.scim_groups_for(slack.pk) is not None for t in p.role_templates.all())
    ]
    assert made["accounts"] == live.count() + len(in_slack) and live.count() > 15
    slack_accounts = DirectoryAccount.objects.filter(connection=slack).exclude(remote_id="")
    assert {a.identity_id for a in slack_accounts} == {p.pk for p in in_slack}
    enabled_leavers = 0
    for person in live:
        link = DirectoryAccount.objects.get(identity=person, connection__kind="entra")
        user = users[person.username]
        assert link.remote_id == user["id"]
        if person.status == Identity.Status.ACTIVE:
            assert user["accountEnabled"], person.username
            assert link.managed.get("groups"), "their templates' groups, as the portal's own"
        else:
            enabled_leavers += user["accountEnabled"]
    assert enabled_leavers == 1, "one leaver enabled by hand: the seeded drift"
    # Engineering gives "Slack / Member": the app Slack with the role Member, as the engine
    # gives it (the drift report showed every history engineer without it)
    engineers = live.filter(status=Identity.Status.ACTIVE, role_templates__name="Engineering")
    assert engineers.exists()
    for person in engineers:
        link = DirectoryAccount.objects.get(identity=person, connection__kind="entra")
        assert [a["name"] for a in link.managed.get("apps", [])] == ["Slack"], person.username
    assert made["drift"] == 2
    for sku in skus:
        assert sku["prepaidUnits"]["enabled"] - sku["consumedUnits"] >= 1, sku["skuPartNumber"]
    # who went without a seat has it recorded, as an onboarding without a seat would
    without = [p for p in live if p.license_choices]
    assert len(without) == made["without_seat"]

    assert demo_accounts.seed_accounts(slugs=("contoso",))["accounts"] == 0, "once"
