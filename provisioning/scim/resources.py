"""What the endpoint serves, as scim2-models objects: the user model with its enterprise
extension, the service's description (ServiceProviderConfig, Schemas, ResourceTypes), and
users and groups in SCIM shape."""

from __future__ import annotations

import re
from typing import Annotated

from django.db.models import Q
from pydantic import Field, model_validator
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ComplexAttribute,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    GroupMember,
    Meta,
    Mutability,
    Patch,
    Reference,
    ResourceType,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    Uniqueness,
    User,
)
from scim2_models.annotations import CaseExact, Required

from provisioning.models import Identity
from tenants.models import RoleTemplate

MAX_RESULTS = 100  # a page never holds more (filter.maxResults)


class LenientManager(ComplexAttribute):
    """The enterprise manager as identity providers send it: Okta and Entra send `value`
    (and Okta `displayName`) but no `$ref`, which RFC 7643 marks required."""

    value: Annotated[str | None, CaseExact.true] = None
    ref: Annotated[Reference["User"] | None, Required.false] = Field(  # noqa: UP037
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display_name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, data):
        """Entra's PATCH sets the manager to the manager's id alone, a string where RFC 7643
        §4.3 has the complex {"value": id} (learn.microsoft.com, "Tutorial: Develop and plan
        provisioning for a SCIM endpoint", *Update User [Add Manager]*): read as that."""
        return {"value": data} if isinstance(data, str) else data


class EnterpriseExtension(EnterpriseUser):
    manager: LenientManager | None = None


ScimUser = User[EnterpriseExtension]

CONFIG = ServiceProviderConfig(
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=True),  # sortBy / sortOrder: filters.order_of
    etag=ETag(supported=False),
    authentication_schemes=[
        AuthenticationScheme(
            type="oauthbearertoken",
            name="Bearer token",
            description="A token an MSP admin creates on the tenant's SCIM page: "
            "Authorization: Bearer scim_…",
            primary=True,
        )
    ],
)


def _user_type() -> ResourceType:
    user_type = ResourceType.from_resource(ScimUser)
    user_type.description = "People of the tenant: POST joins, PATCH/PUT moves, active=false leaves"
    return user_type


def _group_type() -> ResourceType:
    group_type = ResourceType.from_resource(Group)
    group_type.description = "The tenant's role templates, read-only (GET, and POST /.search)"
    return group_type


PROVIDER = ScimProvider(
    models=[User, EnterpriseExtension, Group],
    resource_types=[_user_type(), _group_type()],
    config=CONFIG,
)


def with_meta(document, base: str, resource_type: str, location: str):
    """A discovery document with the `meta` RFC 7644 §4 asks of it."""
    document = document.model_copy(deep=True)
    document.meta = Meta(resource_type=resource_type, location=f"{base}/{location}")
    return document


def service_provider_config(base: str) -> ServiceProviderConfig:
    return with_meta(CONFIG, base, "ServiceProviderConfig", "ServiceProviderConfig")


def resource_types(base: str) -> list[ResourceType]:
    return [
        with_meta(t, base, "ResourceType", f"ResourceTypes/{t.id}") for t in PROVIDER.resource_types
    ]


# What the portal keeps of a user, and so all the schemas advertise: an attribute a client
# sends beyond these is accepted and ignored (RFC 7643 §2: a service provider's schema says
# what it supports). userName is immutable: the portal does not rename accounts.
SUPPORTED = {
    str(User.__schema__): {
        "userName": None,
        "name": {"givenName", "familyName"},
        "displayName": None,
        "emails": {"value", "type", "primary"},
        "title": None,
        "active": None,
        "roles": {"value"},
    },
    str(EnterpriseExtension.__schema__): {
        "employeeNumber": None,
        "organization": None,
        "department": None,
        "manager": {"value", "$ref"},
    },
}
IMMUTABLE = {"userName"}
# Refused when another person of the tenant has it (409 uniqueness, `service.py`): said so, so
# that a client learns it from /Schemas (RFC 7643 §7) rather than from a 409.
UNIQUE = {"employeeNumber"}


# The attributes of the RFC's User schemas (RFC 7643 §4.1, §4.3), by schema URN in lower case.
_RFC_ATTRIBUTES = {
    str(s.id).lower(): {a.name.lower() for a in s.attributes or []} for s in PROVIDER.schemas
}
_KEPT = {urn.lower(): {name.lower() for name in kept} for urn, kept in SUPPORTED.items()}


def ignored(schema: str | None, attribute: str) -> bool:
    """Whether `attribute` (of `schema`, the core User when None) is one of the RFC's user
    attributes the portal does not keep: accepted and ignored, never an error."""
    urn = (schema or str(User.__schema__)).lower()
    if urn not in _KEPT:
        return False
    name = attribute.lower()
    return name in _RFC_ATTRIBUTES.get(urn, set()) and name not in _KEPT[urn]


def _advertised(schema):
    if str(schema.id) == str(Group.__schema__):  # the role templates are edited in the portal
        schema = schema.model_copy(deep=True)
        for attribute in schema.attributes or []:
            attribute.mutability = Mutability.read_only
            for sub in attribute.sub_attributes or []:
                sub.mutability = Mutability.read_only
        return schema
    keep = SUPPORTED.get(str(schema.id))
    if keep is None:
        return schema
    schema = schema.model_copy(deep=True)
    attributes = []
    for attribute in schema.attributes or []:
        if attribute.name not in keep:
            continue
        subs = keep[attribute.name]
        if subs is not None and attribute.sub_attributes:
            attribute.sub_attributes = [a for a in attribute.sub_attributes if a.name in subs]
        if attribute.name in IMMUTABLE:
            attribute.mutability = Mutability.immutable
        if attribute.name in UNIQUE:
            attribute.uniqueness = Uniqueness.server
        attributes.append(attribute)
    schema.attributes = attributes
    if str(schema.id) == str(EnterpriseExtension.__schema__):
        schema.name = "EnterpriseUser"  # as RFC 7643 §8.7.1 names it, not as our class is
    return schema


def schemas(base: str):
    return [with_meta(_advertised(s), base, "Schema", f"Schemas/{s.id}") for s in PROVIDER.schemas]


def user_id(identity: Identity) -> str:
    """The person's SCIM id: their row id, and after each re-creation over SCIM a new one,
    `<row id>-<generation>`. A deleted resource's id is never answered again (RFC 7644 §3.6),
    while the person stays one row (their username is unique in the tenant)."""
    scim = getattr(identity, "scim", None)
    generation = scim.generation if scim is not None else 0
    return f"{identity.pk}-{generation}" if generation else str(identity.pk)


_USER_ID = re.compile(r"([0-9]{1,18})(?:-([1-9][0-9]{0,8}))?")


def user_id_q(value: str) -> Q | None:
    """The person whose current SCIM id is `value`, as a query of Identity; None when the
    value is no id of ours."""
    found = _USER_ID.fullmatch(value) if value.isascii() else None
    if found is None:
        return None
    pk, generation = int(found.group(1)), int(found.group(2) or 0)
    if generation:
        return Q(pk=pk, scim__generation=generation)
    return Q(pk=pk) & (Q(scim__isnull=True) | Q(scim__generation=0))


def user_meta(identity: Identity, base: str) -> Meta:
    scim = getattr(identity, "scim", None)
    return Meta(
        resource_type="User",
        # RFC 7643 §3.1: when this resource was added; a re-created user is a new one
        created=(scim.recreated_at if scim is not None else None) or identity.created_at,
        last_modified=identity.updated_at,
        location=f"{base}/Users/{user_id(identity)}",
    )


def group_of(template: RoleTemplate, base: str, members: list[Identity]) -> Group:
    return Group(
        id=str(template.pk),
        display_name=template.name,
        members=[
            # RFC 7643 §4.2: "User" or "Group"; a role template holds people only.
            GroupMember(
                value=user_id(m),
                display=m.display_name,
                ref=f"{base}/Users/{user_id(m)}",
                type="User",
            )
            for m in members
        ]
        or None,
        meta=Meta(
            resource_type="Group",
            created=template.created_at if hasattr(template, "created_at") else None,
            # RFC 7643 §3.1: the last change, `created` if there was none since.
            last_modified=getattr(template, "updated_at", None),
            location=f"{base}/Groups/{template.pk}",
        ),
    )
