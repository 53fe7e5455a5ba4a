"""Licences as Graph has them: SKUs made of service plans, plans that exclude each other,
assignLicense all or nothing, and group-based licensing (inherited licences), through the
real msgraph-sdk."""

from __future__ import annotations

import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody as GroupLicenceBody,
)
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from tests.sandbox.entra_support import EntraDir, make_entra, run_sdk

BUSINESS_STANDARD = "f245ecc8-75af-4f8e-b61f-27d8114de5f3"  # O365_BUSINESS_PREMIUM
E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
SHAREPOINT_PLAN1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"  # SHAREPOINTSTANDARD
SHAREPOINT_PLAN2 = "5dbe027f-2339-4123-9542-606e4d348a72"  # SHAREPOINTENTERPRISE
INHERITED = "inherited from a group membership and it cannot be removed directly"


def _assign(add: list[tuple[str, list[str]]], remove: list[str]) -> AssignLicensePostRequestBody:
    return AssignLicensePostRequestBody(
        add_licenses=[AssignedLicense(sku_id=s, disabled_plans=d) for s, d in add],
        remove_licenses=remove,
    )


def _directory(sandbox_server) -> EntraDir:
    return make_entra(
        sandbox_server,
        skus=[
            {"sku_part_number": "O365_BUSINESS_PREMIUM", "seats": 5},
            {"sku_part_number": "SPE_E3", "seats": 5},
            {"sku_part_number": "EMS", "seats": 1},
        ],
    )


def _user(d: EntraDir, licences: list[str] | None = None, location: str = "GB") -> str:
    """A user made through Graph, given `licences` (SKU ids) directly."""
    response = d.graph().post(
        "/users",
        json={
            "accountEnabled": True,
            "displayName": "Lic Test",
            "mailNickname": "lic",
            "userPrincipalName": f"lic{uuid.uuid4().hex[:8]}@{d.domain}",
            "passwordProfile": {"password": "Sandb0x!pass"},
            **({"usageLocation": location} if location else {}),
        },
    )
    assert response.status_code == 201, response.text
    user_id = response.json()["id"]
    if licences:
        body = {"addLicenses": [{"skuId": s, "disabledPlans": []} for s in licences]}
        answer = d.graph().post(
            f"/users/{user_id}/assignLicense", json=body | {"removeLicenses": []}
        )
        assert answer.status_code == 200, answer.text
    return user_id


def _held(d: EntraDir, user_id: str) -> set[str]:
    body = d.graph().get(f"/users/{user_id}?$select=assignedLicenses").json()
    return {lic["skuId"] for lic in body["assignedLicenses"]}


def _refused(work) -> ODataError:
    with pytest.raises(ODataError) as caught:
        work()
    return caught.value


def test_subscribed_skus_carry_their_service_plans(sandbox_server) -> None:
    d = _directory(sandbox_server)

    async def work(client):
        return await client.subscribed_skus.get()

    skus = {s.sku_part_number: s for s in run_sdk(d, work).value}
    plans = {p.service_plan_name: p for p in skus["SPE_E3"].service_plans}
    assert str(plans["SHAREPOINTENTERPRISE"].service_plan_id) == SHAREPOINT_PLAN2
    assert plans["SHAREPOINTENTERPRISE"].provisioning_status == "Success"
    assert plans["SHAREPOINTENTERPRISE"].applies_to == "User"
    names = {p.service_plan_name for p in skus["O365_BUSINESS_PREMIUM"].service_plans}
    assert {"EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "TEAMS1"} <= names


def test_conflicting_plans_refuse_an_add_and_a_swap_in_one_call_succeeds(sandbox_server) -> None:
    d = _directory(sandbox_server)
    user_id = _user(d, [BUSINESS_STANDARD])

    def add_e3_alone():
        async def work(client):
            await client.users.by_user_id(user_id).assign_license.post(_assign([(E3, [])], []))

        run_sdk(d, work)

    error = _refused(add_e3_alone)
    assert error.response_status_code == 400
    assert "mutually exclusive" in error.error.message
    assert SHAREPOINT_PLAN1 in error.error.message and SHAREPOINT_PLAN2 in error.error.message
    assert _held(d, user_id) == {BUSINESS_STANDARD}

    async def swap(client):
        body = _assign([(E3, [])], [BUSINESS_STANDARD])
        return await client.users.by_user_id(user_id).assign_license.post(body)

    user = run_sdk(d, swap)
    assert user.id == user_id
    assert _held(d, user_id) == {E3}


def test_assign_license_is_all_or_nothing(sandbox_server) -> None:
    d = _directory(sandbox_server)
    user_id = _user(d, [BUSINESS_STANDARD])
    # A good add (EMS) and a good removal with a conflicting add: nothing happens.
    body = {
        "addLicenses": [{"skuId": EMS, "disabledPlans": []}, {"skuId": E3, "disabledPlans": []}],
        "removeLicenses": [],
    }
    answer = d.graph().post(f"/users/{user_id}/assignLicense", json=body)
    assert answer.status_code == 400 and "mutually exclusive" in answer.json()["error"]["message"]
    assert _held(d, user_id) == {BUSINESS_STANDARD}
    # A removal alongside an unknown SKU: the removal does not happen either.
    body = {
        "addLicenses": [{"skuId": "00000000-0000-0000-0000-00000000abcd", "disabledPlans": []}],
        "removeLicenses": [BUSINESS_STANDARD],
    }
    answer = d.graph().post(f"/users/{user_id}/assignLicense", json=body)
    assert answer.status_code == 400, answer.text
    assert _held(d, user_id) == {BUSINESS_STANDARD}


def test_disabled_plans_are_checked_and_can_lift_a_conflict(sandbox_server) -> None:
    d = _directory(sandbox_server)
    user_id = _user(d, [BUSINESS_STANDARD])
    foreign = {"skuId": EMS, "disabledPlans": [SHAREPOINT_PLAN2]}
    answer = d.graph().post(
        f"/users/{user_id}/assignLicense", json={"addLicenses": [foreign], "removeLicenses": []}
    )
    assert answer.status_code == 400 and "does not belong" in answer.json()["error"]["message"]

    async def add_e3_without_sharepoint(client):
        body = _assign([(E3, [SHAREPOINT_PLAN2])], [])
        await client.users.by_user_id(user_id).assign_license.post(body)
        return await client.users.by_user_id(user_id).license_details.get()

    details = {str(x.sku_id): x for x in run_sdk(d, add_e3_without_sharepoint).value}
    assert set(details) == {BUSINESS_STANDARD, E3}
    plans = {p.service_plan_name: p.provisioning_status for p in details[E3].service_plans}
    assert plans["SHAREPOINTENTERPRISE"] == "Disabled" and plans["TEAMS1"] == "Success"


def test_no_usage_location_no_licence(sandbox_server) -> None:
    d = _directory(sandbox_server)
    user_id = _user(d, location="")
    answer = d.graph().post(
        f"/users/{user_id}/assignLicense",
        json={"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []},
    )
    assert answer.status_code == 400
    assert "invalid usage location" in answer.json()["error"]["message"]


def test_a_directly_licensed_users_usage_location_cannot_be_cleared(sandbox_server) -> None:
    """user.md, usageLocation: "Required for users that are assigned licenses ... Not
    nullable." A user holding a licence of their own keeps it: null is 400 and the location
    stays (the text is not published: the invalid-value 400); another country is taken, and
    an unlicensed user may still clear it. The sandbox cleared it under the licence."""
    d = _directory(sandbox_server)
    licensed = _user(d, [E3])
    cleared = d.graph().patch(f"/users/{licensed}", json={"usageLocation": None})
    assert cleared.status_code == 400, cleared.text
    assert cleared.json()["error"]["message"] == (
        "Invalid value specified for property 'usageLocation' of resource 'User'."
    )
    kept = d.graph().get(f"/users/{licensed}?$select=usageLocation").json()
    assert kept["usageLocation"] == "GB"
    assert d.graph().patch(f"/users/{licensed}", json={"usageLocation": "FR"}).status_code == 204
    unlicensed = _user(d)
    assert d.graph().patch(f"/users/{unlicensed}", json={"usageLocation": None}).status_code == 204


def _states(d: EntraDir, user_id: str):
    async def work(client):
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "assignedLicenses", "licenseAssignmentStates"]
        )
        config = RequestConfiguration(query_parameters=query)
        return await client.users.by_user_id(user_id).get(request_configuration=config)

    return run_sdk(d, work)


def _license_group(d: EntraDir, group_id: str, add: list[str], remove: list[str] = ()) -> None:
    async def work(client):
        body = GroupLicenceBody(
            add_licenses=[AssignedLicense(sku_id=s, disabled_plans=[]) for s in add],
            remove_licenses=list(remove),
        )
        return await client.groups.by_group_id(group_id).assign_license.post(body)

    group = run_sdk(d, work)
    assert group.id == group_id


def _join(d: EntraDir, group_id: str, user_id: str) -> None:
    async def work(client):
        ref = ReferenceCreate(odata_id=f"{d.server.url}/v1.0/directoryObjects/{user_id}")
        await client.groups.by_group_id(group_id).members.ref.post(ref)

    run_sdk(d, work)


def test_group_members_inherit_and_cannot_drop_it_directly(sandbox_server) -> None:
    d = _directory(sandbox_server)
    staff = d.group_id("Staff")
    user_id = _user(d)
    _join(d, staff, user_id)
    _license_group(d, staff, [E3])

    user = _states(d, user_id)
    assert [str(x.sku_id) for x in user.assigned_licenses] == [E3]
    (state,) = user.license_assignment_states
    assert state.assigned_by_group == staff and state.state == "Active"
    seats = {
        s["skuPartNumber"]: s["consumedUnits"]
        for s in d.graph().get("/subscribedSkus").json()["value"]
    }
    assert seats["SPE_E3"] == 1

    def remove_directly():
        async def work(client):
            await client.users.by_user_id(user_id).assign_license.post(_assign([], [E3]))

        run_sdk(d, work)

    error = _refused(remove_directly)
    assert error.response_status_code == 400 and INHERITED in error.error.message
    assert _held(d, user_id) == {E3}

    # Leaving the group takes the licence away.
    gone = d.graph().delete(f"/groups/{staff}/members/{user_id}/$ref")
    assert gone.status_code == 204, gone.text
    assert _held(d, user_id) == set()
    assert _states(d, user_id).license_assignment_states == []


def test_direct_and_inherited_together_and_group_licence_removed(sandbox_server) -> None:
    d = _directory(sandbox_server)
    staff = d.group_id("Staff")
    user_id = _user(d, [E3])
    _license_group(d, staff, [E3])
    _join(d, staff, user_id)
    states = {(s.assigned_by_group, s.state) for s in _states(d, user_id).license_assignment_states}
    assert states == {(None, "Active"), (staff, "Active")}
    # The direct one may go: the user still holds E3 through the group.
    answer = d.graph().post(
        f"/users/{user_id}/assignLicense", json={"addLicenses": [], "removeLicenses": [E3]}
    )
    assert answer.status_code == 200, answer.text
    assert _held(d, user_id) == {E3}
    # The group gives the licence up: its members lose it.
    _license_group(d, staff, [], [E3])
    assert _held(d, user_id) == set()


def test_group_licence_in_conflict_is_an_error_state_not_a_licence(sandbox_server) -> None:
    d = _directory(sandbox_server)
    staff = d.group_id("Staff")
    user_id = _user(d, [BUSINESS_STANDARD])
    _license_group(d, staff, [E3])
    _join(d, staff, user_id)
    user = _states(d, user_id)
    assert [str(x.sku_id) for x in user.assigned_licenses] == [BUSINESS_STANDARD]
    inherited = [s for s in user.license_assignment_states if s.assigned_by_group == staff]
    assert [(s.state, s.error) for s in inherited] == [("Error", "MutuallyExclusiveViolation")]


def test_group_licence_without_a_free_seat_is_a_count_violation(sandbox_server) -> None:
    d = _directory(sandbox_server)  # one EMS seat
    staff = d.group_id("Staff")
    first, second = _user(d, [EMS]), _user(d)
    _license_group(d, staff, [EMS])
    _join(d, staff, first)
    _join(d, staff, second)
    assert _held(d, first) == {EMS}  # direct and inherited: one seat
    errors = [s.error for s in _states(d, second).license_assignment_states]
    assert errors == ["CountViolation"] and _held(d, second) == set()


def _consumed(d: EntraDir, sku_id: str) -> tuple[int, int]:
    skus = d.graph().get("/subscribedSkus").json()["value"]
    sku = next(s for s in skus if s["skuId"] == sku_id)
    return sku["consumedUnits"], sku["prepaidUnits"]["enabled"]


def test_a_restored_user_gets_its_licences_back_without_a_free_seat(sandbox_server) -> None:
    """ "Once a user is restored, licenses that were assigned to the user at the time of
    deletion are also restored even if there are no seats available for those licenses"
    (azure-docs articles/active-directory/fundamentals/users-restore.md): the deleted user's
    seat is free for another meanwhile, the restore overcommits the SKU, and the next
    assignment is refused for want of a seat."""
    d = _directory(sandbox_server)  # one EMS seat
    leaver, joiner, later = _user(d, [EMS]), _user(d), _user(d)
    graph = d.graph()
    assert graph.delete(f"/users/{leaver}").status_code == 204
    assert _consumed(d, EMS) == (0, 1)  # a deleted user's licence frees its seat
    taken = graph.post(
        f"/users/{joiner}/assignLicense",
        json={"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []},
    )
    assert taken.status_code == 200, taken.text
    restored = graph.post(f"/directory/deletedItems/{leaver}/restore")
    assert restored.status_code == 200, restored.text
    assert _held(d, leaver) == {EMS} and _consumed(d, EMS) == (2, 1)
    refused = graph.post(
        f"/users/{later}/assignLicense",
        json={"addLicenses": [{"skuId": EMS, "disabledPlans": []}], "removeLicenses": []},
    )
    assert refused.status_code == 400 and "available licenses" in refused.text
