"""Request bodies into stored form: canonical attribute names (RFC 7643 §2.1), types checked
(RFC 7643 §2.3: a wrong type is 400 invalidValue), readOnly attributes ignored as RFC 7644
§3.3 and §3.5.1 require, unknown attributes dropped, nulls unassigned (RFC 7644 §3.5.1)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sandbox.scim.errors import bad_request
from sandbox.scim.paths import ResourceSchemas
from sandbox.scim.schema import Attr, Schema

PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "reference": (str,),
    "binary": (str,),
    "dateTime": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "decimal": (int, float),
    "complex": (dict,),
}


def invalid_value(detail: str) -> Exception:
    return bad_request("invalidValue", detail)


def check_schemas(body: dict, schemas: ResourceSchemas) -> None:
    """`schemas` is REQUIRED, names the core schema, only the resource type's schemas, each
    once (RFC 7643 §3); else 400 invalidSyntax."""
    listed = body.get("schemas")
    if not isinstance(listed, list) or not all(isinstance(s, str) for s in listed):
        raise bad_request("invalidSyntax", "the body needs a 'schemas' list")
    known = {schemas.core.id.lower(), *(e.id.lower() for e in schemas.extensions)}
    if schemas.core.id.lower() not in {s.lower() for s in listed}:
        raise bad_request("invalidSyntax", f"'schemas' must include {schemas.core.id}")
    unknown = [s for s in listed if s.lower() not in known]
    if unknown:
        raise bad_request("invalidSyntax", f"unknown schema(s): {', '.join(unknown)}")
    # "Each String value must be a unique URI ... Duplicate values MUST NOT be included"
    # (RFC 7643 §3); compared as the rest of `schemas` is, without regard to case.
    if len({s.lower() for s in listed}) != len(listed):
        raise bad_request("invalidSyntax", "'schemas' names a schema more than once")


def normalise_resource(body: dict, schemas: ResourceSchemas) -> dict:
    """The writable attributes of `body` in stored form (no id, meta or schemas)."""
    out = normalise_attrs(body, schemas.core)
    external = next((v for k, v in body.items() if k.lower() == "externalid"), None)
    if external is not None:
        if not isinstance(external, str):
            raise invalid_value("externalId must be a string")
        out["externalId"] = external
    for key, value in body.items():
        extension = schemas.extension(key) if ":" in key else None
        if extension is None or value is None:
            continue
        if not isinstance(value, dict):
            raise invalid_value(f"{extension.id} must be an object")
        attrs = normalise_attrs(value, extension)
        if attrs:
            out[extension.id] = attrs
    return out


def normalise_attrs(data: dict, schema: Schema) -> dict:
    out: dict[str, Any] = {}
    for key, value in data.items():
        attr = schema.attr(key)
        if attr is None or attr.mutability == "readOnly" or value is None:
            continue
        normal = normalise_value(attr, value)
        if normal not in (None, [], {}):
            out[attr.name] = normal
    return out


def normalise_value(attr: Attr, value: Any, one_value: bool = False) -> Any:
    """`value` in stored form. A multi-valued attribute's value is a JSON array (RFC 7643
    §2.4: "contain a list of elements using the JSON array format"); anything else in a
    resource body is 400 invalidValue (RFC 7644 §3.12: "not compatible with the ... attribute
    type"). `one_value`: a PATCH may add a single value to one ("a new value is added to the
    attribute", RFC 7644 §3.5.2.1)."""
    if attr.multi:
        if not isinstance(value, list):
            if not one_value:
                raise invalid_value(f"{attr.name} is multi-valued: its value must be an array")
            value = [value]
        items = [normalise_single(attr, v) for v in value if v is not None]
        items = [v for v in items if v not in (None, {}, "")]
        if sum(1 for v in items if isinstance(v, dict) and v.get("primary") is True) > 1:
            raise invalid_value(f"at most one of {attr.name} may be primary (RFC 7643 §2.4)")
        return items
    return normalise_single(attr, value)


def normalise_single(attr: Attr, value: Any) -> Any:
    allowed = PYTHON_TYPES[attr.type]
    if isinstance(value, bool) and bool not in allowed:
        raise invalid_value(f"{attr.name} must be of type {attr.type}, not boolean")
    if not isinstance(value, allowed):
        raise invalid_value(f"{attr.name} must be of type {attr.type}")
    if attr.type == "dateTime":
        try:
            dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid_value(f"{attr.name} must be an xsd:dateTime") from None
    if attr.type != "complex":
        return value
    out = {}
    for key, sub_value in value.items():
        sub = attr.child(key)
        if sub is None or sub.mutability == "readOnly" or sub_value is None:
            continue
        out[sub.name] = normalise_single(sub, sub_value)
    return out


def check_required(data: dict, schema: Schema) -> None:
    for attr in schema.attributes:
        if attr.required and data.get(attr.name) in (None, "", []):
            raise invalid_value(f"{attr.name} is required")
