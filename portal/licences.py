"""The product names of Microsoft's licence SKUs, by part number.

Graph's subscribedSku carries only `skuPartNumber` ("SPE_E3") and `skuId`; the names the
Microsoft 365 admin center shows ("Microsoft 365 E3") are Microsoft's table "Product names
and service plan identifiers for licensing"
(https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference).
The SKUs an MSP's clients commonly buy; any other reads as its part number."""

PRODUCT_NAMES = {
    "AAD_PREMIUM": "Microsoft Entra ID P1",
    "AAD_PREMIUM_P2": "Microsoft Entra ID P2",
    "EMS": "Enterprise Mobility + Security E3",
    "EMSPREMIUM": "Enterprise Mobility + Security E5",
    "ENTERPRISEPACK": "Office 365 E3",
    "ENTERPRISEPREMIUM": "Office 365 E5",
    "EXCHANGEENTERPRISE": "Exchange Online (Plan 2)",
    "EXCHANGESTANDARD": "Exchange Online (Plan 1)",
    "O365_BUSINESS": "Microsoft 365 Apps for business",
    "O365_BUSINESS_ESSENTIALS": "Microsoft 365 Business Basic",
    "O365_BUSINESS_PREMIUM": "Microsoft 365 Business Standard",
    "OFFICESUBSCRIPTION": "Microsoft 365 Apps for enterprise",
    "POWER_BI_PRO": "Power BI Pro",
    "SPB": "Microsoft 365 Business Premium",
    "SPE_E3": "Microsoft 365 E3",
    "SPE_E5": "Microsoft 365 E5",
    "SPE_F1": "Microsoft 365 F3",
    "STANDARDPACK": "Office 365 E1",
}


def product_name(part_number: str) -> str | None:
    """Microsoft's name for the SKU, or None for one not in the table (a SKU id too)."""
    return PRODUCT_NAMES.get(part_number)


def licence_words(part_number: str, *more: str) -> str:
    """A licence in plain text (a dry run's operation, a seat count, an audit event), the
    product's name beside its part number as the pages show it: "SPE_E3 (12 available) —
    Microsoft 365 E3", the part number first as the role template form and Graph take it. A
    part number the table does not name stays as it is."""
    words = f"{part_number} ({'; '.join(more)})" if more else part_number
    name = product_name(part_number)
    return f"{words} — {name}" if name else words
