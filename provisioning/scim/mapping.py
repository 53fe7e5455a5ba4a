"""A SCIM user's words as the person's fields, and back: the one place the inbound SCIM side
translates (the tenant's attribute mappings will route through here, target "inbound-scim")."""

from __future__ import annotations

from pydantic import ValidationError
from scim2_models import Email, Name, Role

from provisioning.models import Identity
from provisioning.scim.resources import EnterpriseExtension, ScimUser, user_id, user_id_q
from tenants import mappings
from tenants.mappings.defaults import INBOUND
from tenants.models import Tenant

ATTRIBUTES = ("department", "job_title", "company", "office", "manager")


def person_fields(tenant: Tenant, scim_user: ScimUser, kept: dict | None = None) -> dict:
    """The person's fields for a SCIM user: its attributes (userName, names, work e-mail,
    title, enterprise department / organization / employeeNumber / manager) through the
    tenant's attribute mapping of the target "inbound-scim" (tenants/mappings: the defaults
    map each to today's field), then what SCIM itself decides: externalId, active and the
    pushed groups (`roles`). `kept`: for an update, the person's fields now; an attribute
    the mapping gives no value (the office by default: SCIM has no attribute for it) keeps
    theirs, as no SCIM request can have named it."""
    source = scim_source(tenant, scim_user)
    mapped = {key: _text(value) for key, value in mappings.apply(tenant, INBOUND, source).items()}
    first, last = mapped.get("first_name", ""), mapped.get("last_name", "")
    if not first and not last:  # the directories need names
        first, last = _names(mapped.get("display_name", ""), mapped.get("username", ""))
    return {
        "username": mapped.get("username", ""),
        "first_name": first,
        "last_name": last,
        "display_name": mapped.get("display_name", "") or f"{first} {last}".strip(),
        "email": mapped.get("email", "") or mapped.get("username", ""),
        **{key: mapped[key] if key in mapped else (kept or {}).get(key, "") for key in ATTRIBUTES},
        "employee_id": mapped.get("employee_id", ""),
        "external_id": source["externalId"],
        "active": scim_user.active is not False,
        "groups": [
            _text(r.value or r.display) for r in scim_user.roles or [] if r.value or r.display
        ],
    }


def _pushed_groups(scim_user: ScimUser) -> list[str]:
    return [g for g in (_text(r.value or r.display) for r in scim_user.roles or []) if g]


def scim_source(tenant: Tenant, scim_user: ScimUser) -> dict[str, str]:
    """The SCIM user as the mapping's source attributes (tenants.mappings' INBOUND_SOURCES)."""
    name = scim_user.name or Name()
    enterprise = scim_user[EnterpriseExtension] or EnterpriseExtension()
    return {
        "userName": _text(scim_user.user_name),
        "name.givenName": _text(name.given_name),
        "name.familyName": _text(name.family_name),
        "displayName": _text(scim_user.display_name),
        "emails.work": _email(scim_user.emails or []),
        "title": _text(scim_user.title),
        "externalId": _text(scim_user.external_id),
        "active": "false" if scim_user.active is False else "true",
        "department": _text(enterprise.department),
        "organization": _text(enterprise.organization),
        "employeeNumber": _text(enterprise.employee_number),
        "manager": _manager_in(tenant, enterprise.manager),
    }


def fields_of(identity: Identity) -> dict:
    """What the portal holds of the person, in the same words as `person_fields`."""
    attributes = identity.attributes or {}
    scim = getattr(identity, "scim", None)
    return {
        "username": identity.username,
        "first_name": identity.first_name,
        "last_name": identity.last_name,
        "display_name": identity.display_name,
        "email": identity.email,
        **{key: str(attributes.get(key) or "") for key in ATTRIBUTES},
        "manager_id": _manager_id(identity.tenant_id, str(attributes.get("manager") or "")),
        "employee_id": identity.employee_id,
        "external_id": identity.external_id,
        "active": identity.status in (Identity.Status.JOINER, Identity.Status.ACTIVE),
        "groups": list(scim.groups) if scim else [],
    }


def scim_user_of(fields: dict, base: str = "") -> ScimUser:
    """The SCIM user for these fields (without id and meta); `base` the endpoint's URL, for
    the manager's `$ref` when the portal manages the manager."""
    manager_id = fields.get("manager_id") or ""
    manager = manager_id or fields["manager"]
    ref = f"{base}/Users/{manager_id}" if base and manager_id else None
    enterprise = EnterpriseExtension(
        department=fields["department"] or None,
        organization=fields["company"] or None,
        employee_number=fields["employee_id"] or None,
        manager={"value": manager, "$ref": ref} if manager else None,
    )
    user = ScimUser(
        user_name=fields["username"],
        external_id=fields["external_id"] or None,
        name=Name(given_name=fields["first_name"] or None, family_name=fields["last_name"] or None),
        display_name=fields["display_name"] or None,
        emails=_emails_of(fields["email"]),
        title=fields["job_title"] or None,
        active=fields["active"],
        roles=[Role(value=g) for g in fields["groups"]] or None,
    )
    return _with_extension(user, enterprise)


def _emails_of(address: str) -> list[Email] | None:
    """The address as a work e-mail; one SCIM would refuse (a reserved domain such as
    .test) is left out rather than failing the whole answer."""
    if not address:
        return None
    try:
        return [Email(value=address, type="work", primary=True)]
    except ValidationError:
        return None


def _with_extension(user: ScimUser, enterprise: EnterpriseExtension) -> ScimUser:
    # Always there, even empty: its URN in `schemas` tells a client (scim2-client picks
    # its model by it) that this user type carries the extension.
    user[EnterpriseExtension] = enterprise
    return user


def _manager_in(tenant: Tenant, manager) -> str:
    """The manager as the portal names one (a username): SCIM gives the manager's SCIM id
    (this portal's identity id), or a name or username that is kept as it is."""
    if manager is None:
        return ""
    value = _text(manager.value)
    same = user_id_q(value)
    if same is not None:
        found = Identity.objects.filter(tenant=tenant).filter(same).first()
        if found is not None:
            return found.username
    return value or _text(manager.display_name)


def _manager_id(tenant_id: int, manager: str) -> str:
    """The manager's SCIM id when the portal manages them, else "" (the name is shown)."""
    if not manager:
        return ""
    found = (
        Identity.objects.filter(tenant_id=tenant_id, username__iexact=manager)
        .select_related("scim")
        .first()
    )
    return user_id(found) if found else ""


def _names(display: str, username: str) -> tuple[str, str]:
    words = (display or username.split("@")[0]).split()
    return (words[0], " ".join(words[1:])) if words else ("", "")


def _email(emails: list[Email]) -> str:
    chosen = next((e for e in emails if e.primary), None)
    chosen = chosen or next((e for e in emails if str(e.type or "") == "work"), None)
    chosen = chosen or (emails[0] if emails else None)
    return _text(chosen.value) if chosen else ""


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""
