"""The service plans inside each SKU, and the plans a user may not hold together.

Source: "Product names and service plan identifiers for licensing" (entra-docs,
docs/identity/users/licensing-service-plan-reference.md): the product table gives each
SKU's plans (a subset here: the plans that matter to provisioning), its last section
"Service plans that cannot be assigned at the same time" the exclusion tables. Exchange
Online Plan 1 and Plan 2 stack since 2023 (licensing-groups-resolve-problems.md, "Conflicting
service plans"), so EXCHANGE_S_ENTERPRISE is in no exclusion group; SharePoint Plan 1 and
Plan 2 still are, which is what makes Microsoft 365 Business Standard and Microsoft 365 E3
(or Office 365 E1 and E3) refuse to sit on one user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

PLAN_IDS = {
    "EXCHANGE_S_STANDARD": "9aaf7827-d63c-4b61-89c3-182f06f82e5c",
    "EXCHANGE_S_ENTERPRISE": "efb87545-963c-4e0d-99df-69c6916d9eb0",
    "EXCHANGE_S_DESKLESS": "4a82b400-a79f-41a4-b4e2-e94f5787b113",
    "EXCHANGE_S_ESSENTIALS": "1126bef5-da20-4f07-b45e-ad25d2581aa8",
    "EXCHANGE_S_FOUNDATION": "113feb6c-3fe4-4440-bddc-54d774bf0318",
    "SHAREPOINTSTANDARD": "c7699d2e-19aa-44de-8edf-1736da088ca1",
    "SHAREPOINTENTERPRISE": "5dbe027f-2339-4123-9542-606e4d348a72",
    "SHAREPOINTWAC": "e95bec33-7c88-4a70-8e19-b10bd9d0c014",
    "MCOSTANDARD": "0feaeb32-d00e-4d66-bd5a-43b5b83db82c",
    "TEAMS1": "57ff2da0-773e-42df-b2af-ffb7a2317929",
    "OFFICESUBSCRIPTION": "43de0ff5-c92c-492b-9116-175376d08c38",
    "OFFICE_BUSINESS": "094e7854-93fc-4d55-b2c0-3ab5369ebdc1",
    "YAMMER_ENTERPRISE": "7547a3fe-08ee-4ccb-b430-5077c5041653",
    "INTUNE_O365": "882e1d05-acd1-4ccb-8708-6ee03664b117",
    "INTUNE_A": "c1ec4a95-1f05-45b3-a911-aa3fa01094f5",
    "AAD_PREMIUM": "41781fb2-bc02-4b7c-bd55-b576c07bb09d",
    "AAD_PREMIUM_P2": "eec0eb4f-6444-4f95-aba0-50c24d67f998",
    "MFA_PREMIUM": "8a256a2b-b617-496d-b51b-e76466e88db0",
    "RMS_S_ENTERPRISE": "bea4c11e-220a-4e6d-8eb8-8ea15d019f90",
    "RMS_S_PREMIUM": "6c57d4b6-3b23-47a5-9bc9-69f17b4947b3",
    "RMS_S_PREMIUM2": "5689bec4-755d-4753-8b61-40975025187c",
    "ADALLOM_S_DISCOVERY": "932ad362-64a8-4783-9106-97849a1a30b9",
    "ADALLOM_S_STANDALONE": "2e2ddb96-6af9-4b1d-a3f0-d6ecfd22edb2",
    "ATA": "14ab5db5-e6c4-4b20-b4bc-13e36fd2227f",
    "BPOS_S_TODO_1": "5e62787c-c316-451f-b873-1d05acd4d12c",
    "WIN10_PRO_ENT_SUB": "21b439ba-a0ca-424f-a6cc-52f954a5b111",
    "WINDEFATP": "871d91ec-ec1a-452b-a83f-bd76c7d770ef",
    "MDE_LITE": "292cc034-7b7c-4950-aaf5-943befd3f1d4",
    "PROJECTWORKMANAGEMENT": "b737dad2-2f6c-4c65-90e3-ca563267e8b9",
    "SWAY": "a23b959c-7ce8-4e57-9140-b90eb88a9e97",
}
# Plans that apply to the organisation, not to a user (subscribedSku.servicePlans.appliesTo).
COMPANY_PLANS = frozenset({"EXCHANGE_S_FOUNDATION"})

_OFFICE_BASICS = ("SHAREPOINTWAC", "MCOSTANDARD", "TEAMS1", "YAMMER_ENTERPRISE", "INTUNE_O365")
_PLAN1_SUITE = ("EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", *_OFFICE_BASICS, "SWAY")
_PLAN2_SUITE = ("EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE", *_OFFICE_BASICS, "SWAY")
_SECURITY = ("INTUNE_A", "AAD_PREMIUM", "MFA_PREMIUM", "RMS_S_ENTERPRISE", "RMS_S_PREMIUM")
SKU_PLANS: dict[str, tuple[str, ...]] = {
    "O365_BUSINESS_ESSENTIALS": (*_PLAN1_SUITE, "PROJECTWORKMANAGEMENT", "BPOS_S_TODO_1"),
    "O365_BUSINESS_PREMIUM": (*_PLAN1_SUITE, "OFFICE_BUSINESS", "PROJECTWORKMANAGEMENT"),
    "SPB": (*_PLAN1_SUITE, "OFFICE_BUSINESS", *_SECURITY),
    "STANDARDPACK": (*_PLAN1_SUITE, "PROJECTWORKMANAGEMENT"),
    "ENTERPRISEPACK": (*_PLAN2_SUITE, "OFFICESUBSCRIPTION", "RMS_S_ENTERPRISE"),
    "SPE_E3": (
        *_PLAN2_SUITE,
        "OFFICESUBSCRIPTION",
        *_SECURITY,
        "ADALLOM_S_DISCOVERY",
        "WIN10_PRO_ENT_SUB",
        "MDE_LITE",
    ),
    "SPE_E5": (
        *_PLAN2_SUITE,
        "OFFICESUBSCRIPTION",
        *_SECURITY,
        "AAD_PREMIUM_P2",
        "RMS_S_PREMIUM2",
        "ADALLOM_S_STANDALONE",
        "ATA",
        "WIN10_PRO_ENT_SUB",
        "WINDEFATP",
    ),
    "EMS": (
        "AAD_PREMIUM",
        "RMS_S_PREMIUM",
        "ADALLOM_S_DISCOVERY",
        "EXCHANGE_S_FOUNDATION",
        "RMS_S_ENTERPRISE",
        "MFA_PREMIUM",
        "INTUNE_A",
    ),
    "EMSPREMIUM": (
        "AAD_PREMIUM",
        "AAD_PREMIUM_P2",
        "RMS_S_PREMIUM",
        "RMS_S_PREMIUM2",
        "EXCHANGE_S_FOUNDATION",
        "RMS_S_ENTERPRISE",
        "MFA_PREMIUM",
        "ADALLOM_S_STANDALONE",
        "ATA",
        "INTUNE_A",
    ),
    "AAD_PREMIUM": ("AAD_PREMIUM", "ADALLOM_S_DISCOVERY", "EXCHANGE_S_FOUNDATION", "MFA_PREMIUM"),
    "AAD_PREMIUM_P2": (
        "AAD_PREMIUM",
        "AAD_PREMIUM_P2",
        "ADALLOM_S_DISCOVERY",
        "EXCHANGE_S_FOUNDATION",
        "MFA_PREMIUM",
    ),
    "EXCHANGESTANDARD": ("EXCHANGE_S_STANDARD", "INTUNE_O365", "BPOS_S_TODO_1"),
    "EXCHANGEENTERPRISE": ("EXCHANGE_S_ENTERPRISE",),
    "EXCHANGEDESKLESS": ("EXCHANGE_S_DESKLESS",),
    "EXCHANGE_S_ESSENTIALS": ("EXCHANGE_S_ESSENTIALS", "BPOS_S_TODO_1"),
}
# "The following service plans cannot be assigned together" (one tuple per table; the
# plans of a table that no SKU here carries are kept so the tables read as published).
EXCLUSIVE: tuple[frozenset[str], ...] = (
    frozenset(
        {
            "EXCHANGE_B_STANDARD",
            "EXCHANGE_S_ARCHIVE",
            "EXCHANGE_S_DESKLESS",
            "EXCHANGE_S_ESSENTIALS",
            "EXCHANGE_S_STANDARD",
            "EXCHANGE_S_STANDARD_MIDMARKET",
        }
    ),
    frozenset({"RMS_S_ENTERPRISE", "RMS_S_ENTERPRISE_GOV"}),
    frozenset({"INTUNE_A", "INTUNE_A_VL", "INTUNE_B"}),
    frozenset(
        {
            "ONEDRIVEENTERPRISE",
            "SHAREPOINT_S_DEVELOPER",
            "SHAREPOINTDESKLESS",
            "SHAREPOINTENTERPRISE",
            "SHAREPOINTENTERPRISE_EDU",
            "SHAREPOINTENTERPRISE_MIDMARKET",
            "SHAREPOINTLITE",
            "SHAREPOINTSTANDARD",
            "SHAREPOINTSTANDARD_EDU",
            "SHAREPOINTSTANDARD_YAMMERSHADOW",
        }
    ),
    frozenset({"MCOIMP", "MCOSTANDARD_MIDMARKET", "MCOSTANDARD", "MCOLITE"}),
    frozenset({"MCOPSTN1", "MCOPSTN2", "MCOPSTN5"}),
    frozenset({"YAMMER_ENTERPRISE", "YAMMER_EDU", "YAMMER_MIDSIZE"}),
)


@dataclass(frozen=True)
class ServicePlan:
    id: str
    name: str

    @property
    def applies_to(self) -> str:
        return "Company" if self.name in COMPANY_PLANS else "User"


def plans_of(sku_part_number: str) -> list[ServicePlan]:
    """A SKU's service plans; a SKU this catalogue does not know has one plan of its name."""
    names = SKU_PLANS.get(sku_part_number)
    if names is None:
        plan_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"plan/{sku_part_number}"))
        return [ServicePlan(plan_id, sku_part_number)]
    return [ServicePlan(PLAN_IDS[name], name) for name in names]


def plan_view(plan: ServicePlan, status: str = "Success") -> dict:
    return {
        "servicePlanId": plan.id,
        "servicePlanName": plan.name,
        "provisioningStatus": status,
        "appliesTo": plan.applies_to,
    }


def clash(held: dict[str, ServicePlan]) -> tuple[ServicePlan, ServicePlan] | None:
    """Two enabled plans (by id) a user may not hold together, if there are any."""
    by_name = {plan.name: plan for plan in held.values()}
    for group in EXCLUSIVE:
        inside = sorted(set(by_name) & group)
        if len(inside) > 1:
            return by_name[inside[0]], by_name[inside[1]]
    return None


def stack(parts: list[str]) -> bool:
    """Whether one user may hold all these SKUs (by part number) with every plan enabled."""
    return clash({p.id: p for part in parts for p in plans_of(part)}) is None
