"""The catalogue of groups, licences and apps per connection, kept by the inventory reads
through the real SDKs against the sandbox: listed in full reads, group names followed from
groups/delta, a kind listed again only when a read meets an id the catalogue lacks."""

from __future__ import annotations

import pytest

from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.inventory import catalog
from provisioning.inventory.models import Resource
from tests.provisioning.inventory import test_refresh as reads
from tests.provisioning.inventory.test_refresh import (
    account,
    graph_ok,
    ids_by_name,
    refresh,
    requests_during,
)

pytestmark = pytest.mark.django_db
dirs, existing = reads.dirs, reads.existing  # the fixtures: directories made for each test


def entra(dirs):
    return dirs.tenant.connections.get(kind="entra")


def test_a_full_read_lists_groups_licences_and_apps_by_id_and_name(dirs):
    refresh(dirs, "entra")
    connection = entra(dirs)
    groups = ids_by_name(dirs, "/groups", "displayName")
    skus = ids_by_name(dirs, "/subscribedSkus", "skuPartNumber", "skuId")
    apps = ids_by_name(dirs, "/servicePrincipals", "displayName")

    assert catalog.names(connection, "groups") == {v: k for k, v in groups.items()}
    assert catalog.names(connection, "licenses") == {v: k for k, v in skus.items()}
    assert catalog.names(connection, "apps") == {v: k for k, v in apps.items()}
    dynamic = catalog.resolve(connection, "groups", "sales (DYNAMIC)")
    assert dynamic.remote_id == groups["Sales (dynamic)"] and dynamic.detail["dynamic"] is True
    assert catalog.resolve(connection, "groups", groups["Staff"]).name == "Staff"
    assert catalog.resolve(connection, "groups", "staff").detail["dynamic"] is False
    e3 = catalog.resolve(connection, "licenses", "spe_e3")
    assert e3.remote_id == skus["SPE_E3"] and e3.detail["total"] == 100
    assert catalog.resolve(connection, "apps", "Nope") is None
    assert catalog.resolve(connection, "apps", "  ") is None
    with pytest.raises(ValueError):
        catalog.names(connection, "roles")


def test_an_incremental_read_follows_renames_and_lists_groups_only_for_a_new_one(dirs, existing):
    refresh(dirs, "entra")
    connection = entra(dirs)
    groups, ada = existing["groups"], existing["people"]["ada"]["id"]
    graph_ok(dirs, "PATCH", f"/groups/{groups['Finance']}", {"displayName": "Finance & Legal"})

    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    assert catalog.names(connection, "groups")[groups["Finance"]] == "Finance & Legal"
    assert "GET /v1.0/groups" not in calls and calls["http_requests"] == 2, calls

    made = graph_ok(
        dirs,
        "POST",
        "/groups",
        {
            "displayName": "Project Apollo",
            "mailNickname": "apollo",
            "mailEnabled": False,
            "securityEnabled": True,
        },
    )
    ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{ada}"}
    graph_ok(dirs, "POST", f"/groups/{made['id']}/members/$ref", ref)
    graph_ok(dirs, "DELETE", f"/groups/{groups['Managers']}")

    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    assert calls["GET /v1.0/groups"] == 1, calls  # the group met that it did not know
    apollo = catalog.resolve(connection, "groups", "project apollo")
    assert apollo.remote_id == made["id"]
    assert apollo.detail == {  # a cloud security group: Graph changes its members
        "dynamic": False,
        "mail_enabled": False,
        "security_enabled": True,
        "role_assignable": False,
        "synced": False,
        "unified": False,
    }
    assert catalog.resolve(connection, "groups", "Managers") is None  # deleted
    assert made["id"] in account(dirs, ada).group_ids


def test_a_licence_met_that_the_catalogue_lacks_lists_the_licences_again(dirs, existing):
    refresh(dirs, "entra")
    connection = entra(dirs)
    skus = existing["skus"]
    Resource.objects.filter(connection=connection, kind="licenses", name="EMS").delete()
    ada = existing["people"]["ada"]["id"]  # who has a usage location
    graph_ok(
        dirs,
        "POST",
        f"/users/{ada}/assignLicense",
        {"addLicenses": [{"skuId": skus["EMS"], "disabledPlans": []}], "removeLicenses": []},
    )

    cursor, calls = requests_during(dirs, lambda: refresh(dirs, "entra"))

    assert calls["GET /v1.0/subscribedSkus"] == 1, calls
    assert catalog.names(connection, "licenses")[skus["EMS"]] == "EMS"


def test_okta_groups_apps_and_no_licences(dirs):
    refresh(dirs, "okta")
    connection = dirs.tenant.connections.get(kind="okta")
    okta = connector_for(connection)
    listed = {g.name: g.id for g in bridge.run(okta.groups())}

    assert catalog.names(connection, "groups") == {v: k for k, v in listed.items()}
    # Okta's type of group, kept so that built-in ones (Everyone) are never held against
    # anyone; the sandbox's orgs have none.
    assert catalog.resolve(connection, "groups", "staff").detail == {"builtin": False}
    assert set(catalog.names(connection, "apps").values()) == {"Salesforce", "Slack"}
    assert catalog.names(connection, "licenses") == {}  # Okta has none, and is not asked
