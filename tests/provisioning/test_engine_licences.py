"""Licences the way Entra has them, end to end (services, a real worker, msgraph-sdk, the
sandbox): a swap between SKUs whose service plans exclude each other is one assignLicense,
and a licence inherited from a group is left to the group."""

from __future__ import annotations

import pytest

from provisioning.connectors import bridge
from provisioning.connectors.errors import PermanentError
from provisioning.connectors.factory import connector_for
from provisioning.engine.licences import SET_LICENSES
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job
from tenants.models import RoleTemplate
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_lifecycle_e2e import offboard, onboard

pytestmark = pytest.mark.django_db(transaction=True)

EXTRA_SKUS = {"skus": [{"sku_part_number": "O365_BUSINESS_PREMIUM", "seats": 10}]}


def _steps(job: Job) -> list[tuple[str, str, str]]:
    return list(job.steps.order_by("order").values_list("action", "target_name", "status"))


def test_mover_swapping_conflicting_skus_ends_with_exactly_the_new_one(on_sandbox, worker):
    dirs = make_directories(
        on_sandbox, "swap", licenses=["O365_BUSINESS_PREMIUM"], entra_extra=EXTRA_SKUS
    )
    engineering = RoleTemplate.objects.create(
        tenant=dirs.tenant, name="Engineering", groups=["Staff"], licenses=["SPE_E3"], apps=[]
    )
    identity = onboard(dirs.tenant, "Sam", "Swap", [dirs.template])
    upn = identity.username
    assert dirs.entra_user(upn)["licenses"] == ["O365_BUSINESS_PREMIUM"]
    # Business Standard's SharePoint (Plan 1) and E3's (Plan 2) exclude each other: an add
    # before the removal is refused by the directory.
    user_id = identity.accounts.get().remote_id
    add_alone = dirs.graph(
        "POST",
        f"/users/{user_id}/assignLicense",
        {
            "addLicenses": [{"skuId": _sku(dirs, "SPE_E3"), "disabledPlans": []}],
            "removeLicenses": [],
        },
    )
    assert add_alone.status_code == 400 and "mutually exclusive" in add_alone.text

    change = lifecycle.ChangeRequest([engineering])
    preview = lifecycle.preview_change(identity, change)
    planned = [(s.action, s.target_name) for _, plan, _ in preview.plans for s in plan.steps]
    swap = (SET_LICENSES, "add SPE_E3; remove O365_BUSINESS_PREMIUM")
    assert swap in planned
    assert not [a for a, _ in planned if a in ("assign_license", "remove_license")]
    job = wait_for_job(lifecycle.request_change(identity, change, actor="system").pk)
    assert job.status == Job.Status.SUCCEEDED, _steps(job)
    assert [s for s in _steps(job) if s[0] == SET_LICENSES] == [(*swap, "succeeded")]
    assert dirs.entra_user(upn)["licenses"] == ["SPE_E3"]  # read back by the job, and here

    # The portal now counts E3 as its own: moving back swaps again, in one call.
    back = wait_for_job(
        lifecycle.request_change(
            identity, lifecycle.ChangeRequest([dirs.template]), actor="system"
        ).pk
    )
    assert back.status == Job.Status.SUCCEEDED, _steps(back)
    assert (SET_LICENSES, "add O365_BUSINESS_PREMIUM; remove SPE_E3", "succeeded") in _steps(back)
    assert dirs.entra_user(upn)["licenses"] == ["O365_BUSINESS_PREMIUM"]


def _sku(dirs, part: str) -> str:
    skus = dirs.graph("GET", "/subscribedSkus").json()["value"]
    return next(s["skuId"] for s in skus if s["skuPartNumber"] == part)


def _license_group(dirs, name: str, part: str) -> None:
    groups = dirs.graph("GET", "/groups").json()["value"]
    group_id = next(g["id"] for g in groups if g["displayName"] == name)
    body = {"addLicenses": [{"skuId": _sku(dirs, part), "disabledPlans": []}], "removeLicenses": []}
    answer = dirs.graph("POST", f"/groups/{group_id}/assignLicense", body)
    assert answer.status_code == 202, answer.text


def test_leaver_with_an_inherited_licence_succeeds_and_loses_it_with_the_group(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "inherit", groups=["Staff", "Sales"], licenses=["SPE_E3"])
    _license_group(dirs, "Staff", "EMS")  # everyone in Staff gets EMS from the group
    identity = onboard(dirs.tenant, "Ines", "Inherit", [dirs.template])
    upn = identity.username
    assert sorted(dirs.entra_user(upn)["licenses"]) == ["EMS", "SPE_E3"]

    preview = lifecycle.preview_offboarding(
        identity, lifecycle.OffboardingOptions.preset_for(identity.tenant)
    )
    (plan,) = [plan for _, plan, _ in preview.plans]
    notes = [p for p in plan.problems if p.kind == "inherited_license"]
    assert [(p.subject, p.blocking) for p in notes] == [("EMS", False)]
    assert "“Staff”" in notes[0].message
    removed = {s.target_name for s in plan.steps if s.action == "remove_license"}
    assert removed == {"SPE_E3"}

    job = offboard(identity)
    assert job.status == Job.Status.SUCCEEDED, _steps(job)
    assert any("EMS comes from the group “Staff”" in w for w in job.options["warnings"])
    assert ("remove_group", "Staff", "succeeded") in _steps(job)
    user = dirs.entra_user(upn)
    assert user["licenses"] == [] and "Staff" not in user["groups"]  # gone with the group


def test_leaver_keeping_the_licensed_group_keeps_the_licence_and_succeeds(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "keepgrp", groups=["Staff", "Sales"], licenses=["SPE_E3"])
    _license_group(dirs, "Staff", "EMS")
    identity = onboard(dirs.tenant, "Kim", "Keeper", [dirs.template])
    job = offboard(identity, keep_groups=["Staff"])
    assert job.status == Job.Status.SUCCEEDED, _steps(job)
    assert not [s for s in _steps(job) if s[1] == "EMS"]
    user = dirs.entra_user(identity.username)
    assert user["licenses"] == ["EMS"] and "Staff" in user["groups"]


def test_connector_reads_inherited_licences_and_swaps_in_one_call(on_sandbox):
    """Both reads (read_state's `$batch`, access_of's SDK calls) tell an inherited SKU and its
    group apart from a direct one; set_licenses swaps conflicting SKUs; a refusal is a
    PermanentError with Graph's message."""
    dirs = make_directories(on_sandbox, "licread", entra_extra=EXTRA_SKUS)
    _license_group(dirs, "Staff", "EMS")
    made = dirs.graph(
        "POST",
        "/users",
        {
            "accountEnabled": True,
            "displayName": "Reed Licence",
            "mailNickname": "reed",
            "userPrincipalName": "reed@licread.example",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Sandb0x!pass"},
        },
    )
    user_id = made.json()["id"]
    groups = {g["displayName"]: g["id"] for g in dirs.graph("GET", "/groups").json()["value"]}
    joined = dirs.graph(
        "POST",
        f"/groups/{groups['Staff']}/members/$ref",
        {"@odata.id": f"{on_sandbox.url}/v1.0/directoryObjects/{user_id}"},
    )
    assert joined.status_code == 204, joined.text
    standard, e3, ems = (_sku(dirs, p) for p in ("O365_BUSINESS_PREMIUM", "SPE_E3", "EMS"))
    connector = connector_for(dirs.tenant.connections.get(kind="entra"))
    bridge.run(connector.set_licenses(user_id, [standard], []))

    _, state = bridge.run(connector.read_state(user_id))
    access = bridge.run(connector.access_of(user_id))
    for seen in (state, access):
        assert seen.licenses == {standard, ems}
        assert seen.inherited_licenses == {ems}
        assert seen.licence_groups == ((ems, groups["Staff"]),)

    with pytest.raises(PermanentError) as refused:
        bridge.run(connector.set_licenses(user_id, [e3], []))
    assert "mutually exclusive" in refused.value.message
    with pytest.raises(PermanentError) as inherited:
        bridge.run(connector.set_licenses(user_id, [], [ems]))
    assert "inherited from a group membership" in inherited.value.message

    bridge.run(connector.set_licenses(user_id, [e3], [standard]))
    # Again, as a retry after the call went through: the removal is gone, the add is held.
    bridge.run(connector.set_licenses(user_id, [e3], [standard]))
    _, state = bridge.run(connector.read_state(user_id))
    assert state.licenses == {e3, ems} and state.inherited_licenses == {ems}


def test_a_licence_that_is_no_sku_id_is_refused_at_once(on_sandbox):
    """Graph's assignLicense takes SKU ids: assignedLicense's skuId is a "Guid", "the unique
    identifier for the SKU. Corresponds to the skuId from subscribedSkus" (Microsoft Graph,
    assignedLicense resource type); a part number such as EMS (the demo history's steps hold
    them, and a retry of one sent them on) made the SDK raise a ValueError while building
    the request, which was read as an unreadable answer: eight tries over minutes."""
    dirs = make_directories(on_sandbox, "licid")
    made = dirs.graph(
        "POST",
        "/users",
        {
            "accountEnabled": True,
            "displayName": "Ida Sku",
            "mailNickname": "ida",
            "userPrincipalName": "ida@licid.example",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Sandb0x!pass"},
        },
    )
    connector = connector_for(dirs.tenant.connections.get(kind="entra"))
    with pytest.raises(PermanentError) as refused:
        bridge.run(connector.set_licenses(made.json()["id"], ["EMS"], []))
    assert type(refused.value) is PermanentError
    assert "EMS" in refused.value.message


def test_a_batched_licence_not_among_the_tenants_skus_is_refused_before_it_is_sent(on_sandbox):
    """A licence goes to Graph by its SKU id, "the skuId from subscribedSkus" (assignedLicense
    resource type); `$batch` sent whatever id a step held (a part number from the demo
    history, a SKU of a subscription since cancelled) and the step failed with Graph's
    "License … does not correspond to a valid company License.". It is refused before the
    batch leaves, naming the tenant's licences; the batch's other steps go on."""
    dirs = make_directories(on_sandbox, "licbatch")
    made = dirs.graph(
        "POST",
        "/users",
        {
            "accountEnabled": True,
            "displayName": "Bea Batch",
            "mailNickname": "bea",
            "userPrincipalName": "bea@licbatch.example",
            "usageLocation": "GB",
            "passwordProfile": {"password": "Sandb0x!pass"},
        },
    )
    user_id = made.json()["id"]
    connector = connector_for(dirs.tenant.connections.get(kind="entra"))
    staff = next(g.id for g in bridge.run(connector.groups()) if g.name == "Staff")
    gone = "0b4d1e5a-7c1f-4d3e-9a55-3f1b8e6c2a90"  # no SKU of this tenant
    with dirs.control() as control:
        control.delete(f"/_sandbox/entra/{dirs.entra_id}/stats").raise_for_status()

    outcomes = bridge.run(
        connector.apply_many(
            user_id,
            [
                ("assign_license", {"sku_id": gone}),
                ("add_group", {"group_id": staff}),
                ("set_licenses", {"add": ["EMS"], "remove": []}),
                ("remove_license", {"sku_id": gone}),
            ],
        )
    )

    for refused, named in zip(outcomes[:1] + outcomes[2:], (gone, "EMS", gone), strict=True):
        assert type(refused) is PermanentError, refused
        assert named in refused.message
        assert "SPE_E3" in refused.message and "nothing was sent" in refused.message
    assert outcomes[1] is None
    sent = dirs.stats("entra")["calls"]
    assert not [call for call in sent if "assignLicense" in call], sent
    user = dirs.entra_user("bea@licbatch.example")
    assert user["groups"] == ["Staff"] and user["licenses"] == []
