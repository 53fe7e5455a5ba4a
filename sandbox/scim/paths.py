"""Attribute paths (RFC 7644 §3.10): `[URN ":"] attr ["." sub]`, resolved against the schemas
a resource type has. Names are case-insensitive (RFC 7643 §2.1)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sandbox.scim.errors import bad_request
from sandbox.scim.schema import COMMON, Attr, Schema

ATTRNAME = re.compile(r"^(\$ref|[A-Za-z][A-Za-z0-9_-]*)$")


@dataclass(frozen=True)
class Resolved:
    """An attribute path resolved to its definitions; `urn` is set for an extension's."""

    attr: Attr
    sub: Attr | None = None
    urn: str | None = None  # the extension schema id holding `attr`, None for the core

    @property
    def leaf(self) -> Attr:
        return self.sub or self.attr

    @property
    def dotted(self) -> str:
        return self.attr.name + (f".{self.sub.name}" if self.sub else "")


@dataclass(frozen=True)
class ResourceSchemas:
    core: Schema
    extensions: tuple[Schema, ...] = ()

    def extension(self, urn: str) -> Schema | None:
        return next((s for s in self.extensions if s.id.lower() == urn.lower()), None)

    def resolve(self, text: str, error: str) -> Resolved:
        """`text` as a path; an unknown or malformed one is a 400 with scimType `error`."""
        urn, rest = split_urn(text, self)
        schema = self.core if urn is None else self.extension(urn)
        if schema is None:
            raise bad_request(error, f"unknown schema in attribute path {text!r}")
        names = rest.split(".")
        if len(names) > 2 or not all(ATTRNAME.match(n) for n in names):
            raise bad_request(error, f"malformed attribute path {text!r}")
        attr = schema.attr(names[0])
        if attr is None and schema is self.core:
            attr = next((a for a in COMMON if a.name.lower() == names[0].lower()), None)
        if attr is None:
            raise bad_request(error, f"no attribute {names[0]!r} in {schema.name}")
        sub = None
        if len(names) == 2:
            sub = attr.child(names[1])
            if sub is None:
                raise bad_request(error, f"no sub-attribute {names[1]!r} in {attr.name}")
        return Resolved(attr, sub, None if schema is self.core else schema.id)


def split_urn(text: str, schemas: ResourceSchemas) -> tuple[str | None, str]:
    """(schema URN or None, the rest). The URN is the text up to the last colon before the
    attribute name; a path like `urn:...:User:name.familyName` keeps its dotted tail."""
    if ":" not in text:
        return None, text
    urn, _, rest = text.rpartition(":")
    if urn.lower() == schemas.core.id.lower():
        return None, rest
    return urn, rest


def attr_resolver(schemas: ResourceSchemas, parent: Attr, error: str):
    """Resolves names inside a value filter (`emails[type eq "work"]`) as sub-attributes."""

    def resolve(text: str) -> Resolved:
        sub = parent.child(text)
        if sub is None:
            raise bad_request(error, f"no sub-attribute {text!r} in {parent.name}")
        return Resolved(parent, sub)

    return resolve
