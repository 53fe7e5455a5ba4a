"""The SCIM schemas the sandbox apps serve (RFC 7643 §4 User and Group, §4.3 the enterprise
extension), as attribute definitions that drive /Schemas, input normalisation, filtering
(caseExact, type) and PATCH (mutability).

Attribute names are case-insensitive (RFC 7643 §2.1): every lookup here goes by lower case and
answers the canonical spelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


@dataclass(frozen=True)
class Attr:
    name: str
    type: str = "string"  # string boolean decimal integer dateTime reference binary complex
    multi: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = "readWrite"  # readOnly readWrite immutable writeOnly
    returned: str = "default"  # always never default request
    uniqueness: str = "none"  # none server global
    sub: tuple[Attr, ...] = ()
    canonical: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    description: str = ""

    def child(self, name: str) -> Attr | None:
        lowered = name.lower()
        return next((a for a in self.sub if a.name.lower() == lowered), None)

    def to_scim(self) -> dict:
        body: dict = {
            "name": self.name,
            "type": self.type,
            "multiValued": self.multi,
            "description": self.description or self.name,
            "required": self.required,
            "mutability": self.mutability,
            "returned": self.returned,
        }
        if self.type in ("string", "reference", "binary"):
            body["caseExact"] = self.case_exact
        if self.type == "string":
            body["uniqueness"] = self.uniqueness
        if self.canonical:
            body["canonicalValues"] = list(self.canonical)
        if self.reference_types:
            body["referenceTypes"] = list(self.reference_types)
        if self.sub:
            body["subAttributes"] = [a.to_scim() for a in self.sub]
        return body


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attr, ...] = field(default_factory=tuple)

    def attr(self, name: str) -> Attr | None:
        lowered = name.lower()
        return next((a for a in self.attributes if a.name.lower() == lowered), None)

    def to_scim(self, location: str) -> dict:
        return {
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [a.to_scim() for a in self.attributes],
            "meta": {"resourceType": "Schema", "location": f"{location}/Schemas/{self.id}"},
        }


def _multi(
    name: str, types: tuple[str, ...], value_type: str = "string", references: tuple = ()
) -> Attr:
    """The usual multi-valued complex shape (RFC 7643 §2.4): value, display, type, primary."""
    return Attr(
        name,
        "complex",
        multi=True,
        sub=(
            Attr("value", value_type, reference_types=references),
            Attr("display"),
            Attr("type", canonical=types),
            Attr("primary", "boolean"),
        ),
    )


# Common attributes (RFC 7643 §3.1): every resource carries them.
ID = Attr("id", case_exact=True, mutability="readOnly", returned="always", uniqueness="server")
EXTERNAL_ID = Attr("externalId", case_exact=True)
META = Attr(
    "meta",
    "complex",
    mutability="readOnly",
    sub=(
        Attr("resourceType", case_exact=True, mutability="readOnly"),
        Attr("created", "dateTime", mutability="readOnly"),
        Attr("lastModified", "dateTime", mutability="readOnly"),
        Attr("location", "reference", case_exact=True, mutability="readOnly"),
        Attr("version", case_exact=True, mutability="readOnly"),
    ),
)
COMMON = (ID, EXTERNAL_ID, META)

NAME = Attr(
    "name",
    "complex",
    sub=tuple(
        Attr(n)
        for n in (
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        )
    ),
)
ADDRESSES = Attr(
    "addresses",
    "complex",
    multi=True,
    sub=(
        *(
            Attr(n)
            for n in ("formatted", "streetAddress", "locality", "region", "postalCode", "country")
        ),
        Attr("type", canonical=("work", "home", "other")),
        Attr("primary", "boolean"),
    ),
)
USER_GROUPS = Attr(
    "groups",
    "complex",
    multi=True,
    mutability="readOnly",
    sub=(
        Attr("value", mutability="readOnly"),
        Attr("$ref", "reference", mutability="readOnly", reference_types=("Group",)),
        Attr("display", mutability="readOnly"),
        Attr("type", mutability="readOnly", canonical=("direct", "indirect")),
    ),
)

USER = Schema(
    USER_SCHEMA,
    "User",
    "User Account",
    (
        Attr("userName", required=True, uniqueness="server"),
        NAME,
        Attr("displayName"),
        Attr("nickName"),
        Attr("profileUrl", "reference", reference_types=("external",)),
        Attr("title"),
        Attr("userType"),
        Attr("preferredLanguage"),
        Attr("locale"),
        Attr("timezone"),
        Attr("active", "boolean"),
        Attr("password", mutability="writeOnly", returned="never"),
        _multi("emails", ("work", "home", "other")),
        _multi("phoneNumbers", ("work", "home", "mobile", "fax", "pager", "other")),
        _multi("ims", ("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo")),
        # RFC 7643 §8.7.1: photos.value "referenceTypes" : ["external"]
        _multi("photos", ("photo", "thumbnail"), "reference", ("external",)),
        ADDRESSES,
        USER_GROUPS,
        _multi("entitlements", ()),
        _multi("roles", ()),
        _multi("x509Certificates", (), "binary"),
    ),
)

ENTERPRISE = Schema(
    ENTERPRISE_SCHEMA,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attr("employeeNumber"),
        Attr("costCenter"),
        Attr("organization"),
        Attr("division"),
        Attr("department"),
        Attr(
            "manager",
            "complex",
            sub=(
                Attr("value"),
                Attr("$ref", "reference", reference_types=("User",)),
                Attr("displayName", mutability="readOnly"),
            ),
        ),
    ),
)

GROUP = Schema(
    GROUP_SCHEMA,
    "Group",
    "Group",
    (
        Attr("displayName", required=True, uniqueness="server"),
        Attr(
            "members",
            "complex",
            multi=True,
            sub=(
                Attr("value", mutability="immutable"),
                Attr("$ref", "reference", mutability="immutable", reference_types=("User",)),
                Attr("display"),  # not in RFC 7643 §8.7.1; kept as the client gives it
                Attr("type", mutability="immutable", canonical=("User",)),
            ),
        ),
    ),
)

ALL = {s.id.lower(): s for s in (USER, ENTERPRISE, GROUP)}
