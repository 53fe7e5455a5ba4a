"""Objects another system owns, through the real msgraph-sdk: users and groups synced from
on-premises AD (onPremisesSyncEnabled) and mail-enabled security groups / distribution lists
(Exchange). Graph refuses to change what AD or Exchange masters with its own 400s, and still
does what lives in the cloud only."""

from __future__ import annotations

import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.reference_update import ReferenceUpdate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from tests.sandbox.entra_support import E3, EntraDir, run_sdk, tenant_body
from tests.sandbox.server import SandboxServer

SYNC_TEXT = (
    "Unable to update the specified properties for on-premises mastered Directory Sync "
    "objects or objects currently undergoing migration."
)
EXCHANGE_TEXT = "Cannot Update a mail-enabled security groups and or distribution list."


@pytest.fixture
def hybrid(sandbox_server: SandboxServer) -> EntraDir:
    """A directory with a synced user, a cloud user, and every kind of group."""
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"h{tenant_id[:8]}.example"
    synced, cloud = f"sam.synced@{domain}", f"cleo.cloud@{domain}"
    body = tenant_body(
        tenant_id,
        domain,
        client_id,
        users=[
            {
                "userPrincipalName": synced,
                "displayName": "Sam Synced",
                "department": "Sales",
                "usageLocation": "GB",
                "onPremisesSyncEnabled": True,
                "onPremisesImmutableId": "c2FtLnN5bmNlZA==",
            },
            {"userPrincipalName": cloud, "displayName": "Cleo Cloud"},
        ],
        groups=[
            {"display_name": "Staff", "members": [synced]},
            {
                "display_name": "Sales-All",
                "mail_enabled": True,
                "security_enabled": False,
                "members": [synced],
            },
            {"display_name": "Finance Mail", "mail_enabled": True, "security_enabled": True},
            {"display_name": "HR (synced)", "synced": True, "members": [synced]},
        ],
    )
    with sandbox_server.control() as control:
        response = control.post("/_sandbox/entra/tenants", json=body)
        assert response.status_code == 201, response.text
    return EntraDir(sandbox_server, tenant_id, domain, client_id, "right-secret", response.json())


def user_id(d: EntraDir, prefix: str) -> str:
    return next(u["id"] for u in d.state()["users"] if u["userPrincipalName"].startswith(prefix))


def members(d: EntraDir, group_id: str) -> list[str]:
    """The UPNs of a group's members, as the directory holds them."""
    return next(g for g in d.state()["groups"] if g["id"] == group_id)["members"]


def user_state(d: EntraDir, uid: str) -> dict:
    return next(u for u in d.state()["users"] if u["id"] == uid)


def refusal(d: EntraDir, work) -> ODataError:
    with pytest.raises(ODataError) as caught:
        run_sdk(d, work)
    return caught.value


def assert_refused(error: ODataError, text: str) -> None:
    assert error.response_status_code == 400
    assert error.error.code == "Request_BadRequest"
    assert error.error.message == text


def ref(d: EntraDir, uid: str) -> ReferenceCreate:
    return ReferenceCreate(odata_id=f"{d.server.url}/v1.0/directoryObjects/{uid}")


# -- synced users ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        User(department="Finance"),
        User(account_enabled=False),
        User(password_profile=PasswordProfile(password="N3w-Passw0rd!")),
        User(usage_location="FR", job_title="Lead"),  # one mastered property refuses them all
    ],
    ids=["profile", "disable", "password", "mixed"],
)
def test_patching_what_ad_masters_on_a_synced_user_is_refused(hybrid: EntraDir, change) -> None:
    uid = user_id(hybrid, "sam.synced")
    before = user_state(hybrid, uid)

    error = refusal(hybrid, lambda client: client.users.by_user_id(uid).patch(change))

    assert_refused(error, SYNC_TEXT)
    after = user_state(hybrid, uid)
    assert after["department"] == before["department"] == "Sales"
    assert after["accountEnabled"] is True
    assert after["usageLocation"] == "GB"


def test_the_cloud_side_of_a_synced_user_stays_writable(hybrid: EntraDir) -> None:
    uid, staff = user_id(hybrid, "sam.synced"), hybrid.group_id("Staff")

    async def work(client):
        user = client.users.by_user_id(uid)
        await user.patch(User(usage_location="FR"))
        await user.assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=E3, disabled_plans=[])], remove_licenses=[]
            )
        )
        await client.groups.by_group_id(staff).members.by_directory_object_id(uid).ref.delete()
        await client.groups.by_group_id(staff).members.ref.post(ref(hybrid, uid))
        revoked = await user.revoke_sign_in_sessions.post()
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "onPremisesSyncEnabled", "usageLocation"]
        )
        return revoked, await user.get(RequestConfiguration(query_parameters=query))

    revoked, read = run_sdk(hybrid, work)

    assert revoked.value is True
    assert read.on_premises_sync_enabled is True
    assert read.usage_location == "FR"
    state = user_state(hybrid, uid)
    assert state["licenses"] == ["SPE_E3"]
    assert "Staff" in state["groups"]


def test_a_cloud_user_reads_no_sync_and_patches_freely(hybrid: EntraDir) -> None:
    uid = user_id(hybrid, "cleo.cloud")

    async def work(client):
        user = client.users.by_user_id(uid)
        await user.patch(User(department="Finance", account_enabled=False))
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "onPremisesSyncEnabled", "accountEnabled", "department"]
        )
        return await user.get(RequestConfiguration(query_parameters=query))

    read = run_sdk(hybrid, work)

    assert read.on_premises_sync_enabled is None
    assert read.account_enabled is False
    assert read.department == "Finance"


def test_the_manager_of_a_synced_user_is_ad_s_to_set(hybrid: EntraDir) -> None:
    sam, cleo = user_id(hybrid, "sam.synced"), user_id(hybrid, "cleo.cloud")

    def manager(uid: str, boss: str):
        body = ReferenceUpdate(odata_id=f"{hybrid.server.url}/v1.0/users/{boss}")
        return lambda client: client.users.by_user_id(uid).manager.ref.put(body)

    assert_refused(refusal(hybrid, manager(sam, cleo)), SYNC_TEXT)
    run_sdk(hybrid, manager(cleo, sam))  # a cloud user may report to a synced one
    read = run_sdk(hybrid, lambda client: client.users.by_user_id(cleo).manager.get())
    assert read.id == sam


def test_a_synced_user_may_be_deleted_in_the_cloud(hybrid: EntraDir) -> None:
    """Graph lets an orphaned synced object be removed in the cloud (KB 2709902)."""
    uid = user_id(hybrid, "sam.synced")

    run_sdk(hybrid, lambda client: client.users.by_user_id(uid).delete())

    assert user_state(hybrid, uid)["deleted"] is True


# -- mail-enabled groups and distribution lists -------------------------------------------------


@pytest.mark.parametrize("name", ["Sales-All", "Finance Mail"])
def test_adding_a_member_to_a_dl_or_mail_enabled_security_group_is_refused(
    hybrid: EntraDir, name: str
) -> None:
    group, uid = hybrid.group_id(name), user_id(hybrid, "cleo.cloud")

    error = refusal(
        hybrid, lambda client: client.groups.by_group_id(group).members.ref.post(ref(hybrid, uid))
    )

    assert_refused(error, EXCHANGE_TEXT)
    assert not any(m.startswith("cleo.cloud@") for m in members(hybrid, group))


def test_removing_a_member_of_a_distribution_list_is_refused(hybrid: EntraDir) -> None:
    group, uid = hybrid.group_id("Sales-All"), user_id(hybrid, "sam.synced")

    error = refusal(
        hybrid,
        lambda client: (
            client.groups.by_group_id(group).members.by_directory_object_id(uid).ref.delete()
        ),
    )

    assert_refused(error, EXCHANGE_TEXT)
    assert any(m.startswith("sam.synced@") for m in members(hybrid, group))


def test_updating_a_distribution_list_is_refused(hybrid: EntraDir) -> None:
    group = hybrid.group_id("Sales-All")

    error = refusal(
        hybrid, lambda client: client.groups.by_group_id(group).patch(Group(description="x"))
    )

    assert_refused(error, EXCHANGE_TEXT)


def test_creating_a_distribution_list_is_refused_a_microsoft_365_group_is_not(
    hybrid: EntraDir,
) -> None:
    def group(name: str, **kinds) -> Group:
        return Group(display_name=name, mail_nickname=name.replace(" ", ""), **kinds)

    dl = group("New DL", mail_enabled=True, security_enabled=False, group_types=[])
    error = refusal(hybrid, lambda client: client.groups.post(dl))
    assert error.response_status_code == 400
    assert error.error.message == (
        "Cannot Create a mail-enabled security groups and or distribution list."
    )

    unified = group("Project X", mail_enabled=True, security_enabled=False, group_types=["Unified"])
    created = run_sdk(hybrid, lambda client: client.groups.post(unified))
    assert created.group_types == ["Unified"]


def test_a_microsoft_365_group_takes_members(hybrid: EntraDir) -> None:
    uid = user_id(hybrid, "cleo.cloud")

    async def work(client):
        group = await client.groups.post(
            Group(
                display_name="Team",
                mail_nickname="team",
                mail_enabled=True,
                security_enabled=False,
                group_types=["Unified"],
            )
        )
        await client.groups.by_group_id(group.id).members.ref.post(ref(hybrid, uid))
        return group.id

    group = run_sdk(hybrid, work)
    assert members(hybrid, group) == [f"cleo.cloud@{hybrid.domain}"]


def test_a_synced_group_refuses_membership_changes_with_the_sync_text(hybrid: EntraDir) -> None:
    group, uid = hybrid.group_id("HR (synced)"), user_id(hybrid, "cleo.cloud")

    error = refusal(
        hybrid, lambda client: client.groups.by_group_id(group).members.ref.post(ref(hybrid, uid))
    )

    assert_refused(error, SYNC_TEXT)


def test_group_lists_show_what_tells_the_kinds_apart(hybrid: EntraDir) -> None:
    query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters()
    page = run_sdk(
        hybrid, lambda client: client.groups.get(RequestConfiguration(query_parameters=query))
    )

    by_name = {g.display_name: g for g in page.value}
    dl = by_name["Sales-All"]
    assert (dl.mail_enabled, dl.security_enabled, dl.group_types) == (True, False, [])
    assert dl.mail == f"SalesAll@{hybrid.domain}"
    assert by_name["HR (synced)"].on_premises_sync_enabled is True
    assert by_name["Staff"].on_premises_sync_enabled is None


def test_a_batched_member_add_to_a_distribution_list_is_refused_inside_the_batch(
    hybrid: EntraDir,
) -> None:
    group, uid = hybrid.group_id("Sales-All"), user_id(hybrid, "cleo.cloud")
    staff = hybrid.group_id("Staff")
    body = {
        "requests": [
            {
                "id": str(n),
                "method": "POST",
                "url": f"/groups/{gid}/members/$ref",
                "headers": {"Content-Type": "application/json"},
                "body": {"@odata.id": f"{hybrid.server.url}/v1.0/directoryObjects/{uid}"},
            }
            for n, gid in enumerate((group, staff), start=1)
        ]
    }
    with hybrid.graph() as graph:
        answers = {r["id"]: r for r in graph.post("/$batch", json=body).json()["responses"]}

    assert answers["1"]["status"] == 400
    assert answers["1"]["body"]["error"]["message"] == EXCHANGE_TEXT
    assert answers["2"]["status"] == 204
