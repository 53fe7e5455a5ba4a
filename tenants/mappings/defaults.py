"""What each kind of target holds, in its directory's own names, and today's fixed
attribute lists as the default mappings: nothing changes until someone edits a mapping."""

from __future__ import annotations

from dataclasses import dataclass

# A person's attributes as the engine's builder has them after templates and overrides
# merge (provisioning/engine/desired.py); dates are ISO (yyyy-MM-dd).
OUTBOUND_SOURCES = (
    "username", "first_name", "last_name", "display_name", "email", "employee_id",
    "department", "job_title", "company", "office", "usage_location", "manager",
    "start_date", "end_date",
)  # fmt: skip
# What a SCIM client sends us (RFC 7643 core and enterprise user), as flat names.
INBOUND_SOURCES = (
    "userName", "name.givenName", "name.familyName", "displayName", "emails.work", "title",
    "externalId", "active", "department", "organization", "employeeNumber", "manager",
)  # fmt: skip


@dataclass(frozen=True)
class TargetKind:
    kind: str
    label: str
    attributes: dict[str, str]  # our name -> the target's own name for it
    defaults: dict[str, str]  # our name -> expression
    sources: tuple[str, ...]
    note: str = ""


def _same(*names: str) -> dict[str, str]:
    return {name: f"[{name}]" for name in names}


# Per outbound kind, our name -> the target's own name; by default each is sent as it is.
ENTRA_NAMES = {
    "first_name": "givenName",
    "last_name": "surname",
    "display_name": "displayName",
    "department": "department",
    "job_title": "jobTitle",
    "usage_location": "usageLocation",
    "company": "companyName",
    "office": "officeLocation",
}
ENTRA = TargetKind(
    "entra",
    "Microsoft Entra ID",
    ENTRA_NAMES,
    _same(*ENTRA_NAMES),
    OUTBOUND_SOURCES,
)
OKTA_NAMES = {
    "first_name": "firstName",
    "last_name": "lastName",
    "display_name": "displayName",
    "department": "department",
    "job_title": "title",
    "company": "organization",
    "usage_location": "countryCode",
}
OKTA = TargetKind(
    "okta",
    "Okta",
    OKTA_NAMES,
    _same(*OKTA_NAMES),
    OUTBOUND_SOURCES,
    note="Okta's base profile has no office attribute, so the office is not sent to Okta.",
)
SCIM_NAMES = {
    "first_name": "name.givenName",
    "last_name": "name.familyName",
    "display_name": "displayName",
    "email": 'emails[type eq "work"].value',
    "job_title": "title",
    "department": "department",
    "company": "organization",
    "employee_id": "employeeNumber",
}
SCIM = TargetKind(
    "scim",
    "SCIM app",
    SCIM_NAMES,
    _same(*SCIM_NAMES),
    OUTBOUND_SOURCES,
    note="department, organization and employeeNumber are in the enterprise user extension.",
)
INBOUND_SCIM = TargetKind(
    "inbound-scim",
    "Inbound SCIM (people pushed to the portal)",
    {
        "username": "username",
        "first_name": "first name",
        "last_name": "last name",
        "display_name": "display name",
        "email": "email",
        "employee_id": "employee id",
        "department": "department",
        "job_title": "job title",
        "company": "company",
        "office": "office",
        "manager": "manager",
    },
    {
        "username": "[userName]",
        "first_name": "[name.givenName]",
        "last_name": "[name.familyName]",
        "display_name": "[displayName]",
        "email": "[emails.work]",
        "employee_id": "[employeeNumber]",
        "department": "[department]",
        "job_title": "[title]",
        "company": "[organization]",
        "manager": "[manager]",
    },
    INBOUND_SOURCES,
    note="The office has no SCIM source by default; map it to a constant or an expression.",
)
KINDS = {k.kind: k for k in (ENTRA, OKTA, SCIM, INBOUND_SCIM)}
# A connection's kind -> how its target key is spelled (a SCIM app is one target each).
TARGET_KEYS = {"entra": "entra", "okta": "okta", "scim": "scim:{pk}"}
INBOUND = "inbound-scim"


def kind_of(target: str) -> TargetKind:
    """The kind of a target key ("entra", "okta", "scim:12", "inbound-scim"); KeyError."""
    return KINDS[target.split(":", 1)[0]]
