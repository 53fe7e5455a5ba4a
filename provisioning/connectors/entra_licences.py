"""Entra licences beyond the plain call: one `assignLicense` for a whole change (Graph applies
addLicenses and removeLicenses together or not at all, so a swap between SKUs whose service
plans exclude each other works only as one call), and what a user inherits from groups
(`licenseAssignmentStates`, where `assignedByGroup` names the group).

A refused assignment (conflicting plans, no seat, no usage location, an inherited licence)
is a 400: `_by_status` in entra.py makes it a PermanentError carrying the directory's message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

from provisioning.connectors.errors import PermanentError

if TYPE_CHECKING:
    from provisioning.connectors.entra import EntraConnector

STATES = "licenseAssignmentStates"
# Graph's answer when a SKU to remove is not (or no longer) the user's.
NOT_HELD = "does not have a corresponding license"


def assign_body(add: list[str], remove: list[str]) -> dict:
    """The JSON of one `assignLicense` (for `$batch`)."""
    return {
        "addLicenses": [{"skuId": sku, "disabledPlans": []} for sku in add],
        "removeLicenses": list(remove),
    }


async def set_licenses(
    connector: EntraConnector, user_id: str, add: list[str], remove: list[str]
) -> None:
    """Add and remove in one call. When a SKU to remove is gone already (a retry after a
    call that did happen), the same change is sent again without it, so that an add is
    never counted done on the strength of the removal's "already gone"."""
    try:
        await _post(connector, user_id, add, remove)
    except PermanentError as exc:
        if NOT_HELD not in exc.message or not remove:
            raise
        held = await _held(connector, user_id)
        still = [sku for sku in remove if sku in held]
        if still == list(remove):
            raise
        if add or still:
            await _post(connector, user_id, add, still)


async def check_skus(connector: EntraConnector, skus: list[str]) -> None:
    """Refuse, before anything is sent, a licence that is not one of the tenant's: Graph
    names a licence by its SKU id, a GUID, "the skuId from subscribedSkus" (assignedLicense
    resource type), and refuses any other with "License … does not correspond to a valid
    company License." (the SDK refuses a non-GUID with a ValueError while building the
    request, which would read as an unreadable answer). The catalogue is read again past
    its brief cache before an id is called unknown: a subscription may be new."""
    if not skus:
        return
    held = await connector.licenses()
    if _unknown(skus, held):
        held = await connector.licenses(fresh=True)
    names = ", ".join(sorted(sku.name for sku in held)) or "none"
    if not_ids := [sku for sku in skus if not _is_sku_id(sku)]:
        raise PermanentError(
            f"{', '.join(not_ids)}: no licence id of Microsoft Graph (a SKU id is a GUID; "
            f"this tenant's licences: {names}); nothing was sent."
        )
    if unknown := _unknown(skus, held):
        raise PermanentError(
            f"{', '.join(unknown)}: no licence of this tenant (its licences: {names}); "
            "nothing was sent."
        )


def _unknown(skus: list[str], held) -> list[str]:
    known = {sku.id.casefold() for sku in held}
    return [sku for sku in skus if sku.casefold() not in known]


async def _post(connector: EntraConnector, user_id: str, add: list[str], remove: list[str]):
    await check_skus(connector, [*add, *remove])
    body = AssignLicensePostRequestBody(
        add_licenses=[AssignedLicense(sku_id=sku, disabled_plans=[]) for sku in add],
        remove_licenses=list(remove),
    )
    async with connector._errors(user_id):
        await connector._graph().users.by_user_id(user_id).assign_license.post(body)


async def _held(connector: EntraConnector, user_id: str) -> set[str]:
    user = await _user_licences(connector, user_id)
    return {str(lic.sku_id) for lic in user.assigned_licenses or []}


async def _user_licences(connector: EntraConnector, user_id: str):
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
        select=["id", "assignedLicenses", STATES]
    )
    config = RequestConfiguration(query_parameters=query)
    async with connector._errors(user_id):
        return await connector._graph().users.by_user_id(user_id).get(request_configuration=config)


def inherited(states: list[dict] | None) -> dict:
    """From `licenseAssignmentStates` (JSON): the SKUs held through a group, and from which
    groups, as AccessState's `inherited_licenses` and `licence_groups`."""
    pairs = sorted(
        {
            (str(s["skuId"]), str(s["assignedByGroup"]))
            for s in states or []
            if s.get("assignedByGroup") and s.get("state") in ("Active", "ActiveWithError")
        }
    )
    return {
        "inherited_licenses": frozenset(sku for sku, _ in pairs),
        "licence_groups": tuple(pairs),
    }


def _is_sku_id(sku: str) -> bool:
    try:
        UUID(sku)
    except (TypeError, ValueError):
        return False
    return True
