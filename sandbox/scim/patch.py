"""PATCH (RFC 7644 §3.5.2): `Operations` of add / replace / remove (op names case-insensitive),
with or without `path`, value filters in paths (`members[value eq "id"]`,
`emails[type eq "work"].value`).

Atomic: the operations run on a copy of the stored resource, which is validated whole
(types, required attributes, uniqueness, member references) and stored only if every
operation succeeded (RFC 7644 §3.5.2: "the operations ... MUST be applied atomically").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sandbox.scim.api import check_if_match, kind_of, rendered
from sandbox.scim.errors import ScimError, bad_request
from sandbox.scim.filter import Parser, alone
from sandbox.scim.paths import Resolved, ResourceSchemas, attr_resolver
from sandbox.scim.pipeline import Call, Reply
from sandbox.scim.resources import Kind, prepare
from sandbox.scim.schema import PATCH_OP, Attr, Schema
from sandbox.scim.values import normalise_resource, normalise_single, normalise_value

OPS = ("add", "replace", "remove")


@dataclass(frozen=True)
class Target:
    """A parsed PATCH path: an attribute, maybe a value filter, maybe a sub-attribute."""

    path: Resolved
    value_filter: Any = None  # a filter node over the values of a multi-valued attribute
    sub: Attr | None = None  # the sub-attribute after a value filter

    @property
    def leaf(self) -> Attr:
        return self.sub or self.path.leaf


def parse_target(text: str, schemas: ResourceSchemas) -> Target | Schema:
    """A path, or an extension schema's URN alone (its attributes as one object)."""
    extension = schemas.extension(text.strip())
    if extension is not None:
        return extension
    if "[" not in text:
        return Target(schemas.resolve(text, "invalidPath"))
    head, _, rest = text.partition("[")
    inner, closing, tail = rest.rpartition("]")
    if not closing or (tail and not tail.startswith(".")):
        raise bad_request("invalidPath", f"malformed path {text!r}")
    path = schemas.resolve(head, "invalidPath")
    if path.sub is not None or not (path.attr.type == "complex" and path.attr.multi):
        raise bad_request("invalidPath", f"{head} is not a multi-valued complex attribute")
    parser = Parser(inner, schemas)
    value_filter = parser.parse(attr_resolver(schemas, path.attr, "invalidFilter"))
    sub = None
    if tail:
        sub = path.attr.child(tail[1:])
        if sub is None:
            raise bad_request("invalidPath", f"no sub-attribute {tail[1:]!r} in {path.attr.name}")
    return Target(path, value_filter, sub)


def check_mutable(target: Target) -> None:
    """readOnly attributes cannot be patched, nor immutable sub-attributes of existing values
    (RFC 7644 §3.5.2, scimType mutability)."""
    for attr in (target.path.attr, target.path.sub, target.sub):
        if attr is not None and attr.mutability == "readOnly":
            raise bad_request("mutability", f"{attr.name} is readOnly")
    if target.value_filter is not None and target.sub and target.sub.mutability == "immutable":
        raise bad_request("mutability", f"{target.sub.name} is immutable")


class Document:
    """The stored form of one resource, changed operation by operation."""

    def __init__(self, data: dict, schemas: ResourceSchemas) -> None:
        self.data = data
        self.schemas = schemas

    def holder(self, path: Resolved, create: bool = False) -> dict:
        if path.urn is None:
            return self.data
        if create:
            return self.data.setdefault(path.urn, {})
        return self.data.get(path.urn, {})

    def matched(self, target: Target) -> list[dict]:
        values = self.holder(target.path).get(target.path.attr.name) or []
        found = [v for v in values if target.value_filter.matches(alone(target.path, v))]
        if not found:
            raise bad_request("noTarget", "the filter in path matched no value")
        return found

    def apply(self, op: str, target: Target | Schema | None, value: Any) -> None:
        if target is None:
            self.without_path(op, value)
        elif isinstance(target, Schema):
            self.on_extension(op, target, value)
        elif op == "remove":
            self.remove(target)
        elif target.value_filter is not None:
            self.set_in_matches(op, target, value)
        else:
            self.set(op, target.path, value)

    def without_path(self, op: str, value: Any) -> None:
        """add/replace with an object of attributes (RFC 7644 §3.5.2.1, §3.5.2.3)."""
        if op == "remove":
            raise bad_request("noTarget", "remove needs a path (RFC 7644 §3.5.2.2)")
        if not isinstance(value, dict):
            raise bad_request("invalidValue", f"{op} without a path takes an object")
        for key, item in value.items():
            if key.lower() == "schemas":
                continue
            extension = self.schemas.extension(key) if ":" in key else None
            if extension is not None and isinstance(item, dict):
                for sub_key, sub_item in item.items():
                    if sub_key.lower() == "schemas":
                        continue
                    path = self.schemas.resolve(f"{extension.id}:{sub_key}", "invalidPath")
                    self.apply(op, checked(Target(path)), sub_item)
                continue
            self.apply(op, checked(Target(self.schemas.resolve(key, "invalidPath"))), item)

    def on_extension(self, op: str, extension: Schema, value: Any) -> None:
        if op == "remove":
            self.data.pop(extension.id, None)
            return
        if not isinstance(value, dict):
            raise bad_request("invalidValue", f"{extension.id} takes an object")
        if op == "replace":
            self.data.pop(extension.id, None)
        self.without_path("add", {extension.id: value})

    def set(self, op: str, path: Resolved, value: Any) -> None:
        holder = self.holder(path, create=True)
        attr = path.attr
        if path.sub is not None:
            if attr.multi:
                raise bad_request("invalidPath", f"select which {attr.name} with a filter")
            current = holder.setdefault(attr.name, {})
            current[path.sub.name] = normalise_single(path.sub, value)
            return
        if value is None:
            holder.pop(attr.name, None)
            return
        if attr.multi:
            given = normalise_value(attr, value, one_value=True)
            if op == "add":
                existing = holder.get(attr.name) or []
                added = [v for v in given if v not in existing]
                if any(_primary(v) for v in added):
                    demote_primary(existing)
                given = existing + added
            holder[attr.name] = given
            return
        normal = normalise_single(attr, value)
        if attr.type == "complex":
            holder[attr.name] = {**(holder.get(attr.name) or {}), **normal}  # others unchanged
        else:
            holder[attr.name] = normal

    def set_in_matches(self, op: str, target: Target, value: Any) -> None:
        matched = self.matched(target)
        values = self.holder(target.path).get(target.path.attr.name) or []
        for item in matched:
            if target.sub is not None:
                item[target.sub.name] = normalise_single(target.sub, value)
            else:
                normal = normalise_single(target.path.attr, value)
                if op == "replace":
                    item.clear()
                item.update(normal)
        chosen = [item for item in matched if _primary(item)]
        if len(chosen) == 1:
            demote_primary([v for v in values if v is not chosen[0]])

    def remove(self, target: Target) -> None:
        holder = self.holder(target.path)
        attr = target.path.attr
        if target.value_filter is None:
            if target.path.sub is not None and not attr.multi:
                (holder.get(attr.name) or {}).pop(target.path.sub.name, None)
            elif target.path.sub is not None:
                raise bad_request("invalidPath", f"select which {attr.name} with a filter")
            else:
                holder.pop(attr.name, None)
            return
        matched = self.matched(target)
        if target.sub is not None:
            for item in matched:
                item.pop(target.sub.name, None)
            return
        holder[attr.name] = [v for v in holder[attr.name] if all(v is not m for m in matched)]


def _primary(value: Any) -> bool:
    return isinstance(value, dict) and value.get("primary") is True


def demote_primary(values: list) -> None:
    """RFC 7644 §3.5.2: "a PATCH operation that sets a value's "primary" sub-attribute to
    "true" SHALL cause the server to automatically set "primary" to "false" for any other
    values in the array" (a POST or PUT with two primaries stays 400: RFC 7643 §2.4)."""
    for item in values:
        if _primary(item):
            item["primary"] = False


def checked(target: Target) -> Target:
    check_mutable(target)
    return target


def operations_of(body: dict) -> list[dict]:
    if PATCH_OP.lower() not in {str(s).lower() for s in body.get("schemas") or []}:
        raise bad_request("invalidSyntax", f"'schemas' must be [{PATCH_OP!r}]")
    operations = next((v for k, v in body.items() if k.lower() == "operations"), None)
    if not isinstance(operations, list) or not operations:
        raise bad_request("invalidSyntax", "'Operations' must be a list of one or more")
    if not all(isinstance(o, dict) for o in operations):
        raise bad_request("invalidSyntax", "each operation must be an object")
    return operations


def run_operation(doc: Document, operation: dict) -> None:
    fields = {k.lower(): v for k, v in operation.items()}
    op = str(fields.get("op", "")).lower()
    if op not in OPS:
        raise bad_request("invalidSyntax", f"op must be add, replace or remove, not {op!r}")
    path = fields.get("path")
    if path is not None and (not isinstance(path, str) or not path.strip()):
        raise bad_request("invalidPath", "path must be a non-empty string")
    if op == "remove" and "value" in fields:
        raise bad_request(
            "invalidSyntax",
            "remove takes no value (RFC 7644 §3.5.2.2); select values with a filter in path",
        )
    if op != "remove" and "value" not in fields:
        raise bad_request("invalidValue", f"{op} needs a value")
    target = parse_target(path, doc.schemas) if path is not None else None
    if isinstance(target, Target):
        check_mutable(target)
        whole = target.path.sub is None and target.value_filter is None
        if op == "remove" and whole and target.path.attr.required:
            # RFC 7644 §3.5.2.2: removing a required attribute is a mutability error.
            raise bad_request("mutability", f"{target.path.attr.name} is required")
    doc.apply(op, target, fields.get("value"))


def patcher(name: str):
    def run(call: Call) -> Reply:
        kind = kind_of(call, name)
        if name == "Group" and not call.app.flavour.group_patch:
            raise ScimError(501, "this app does not support PATCH on Groups; use PUT")
        item = kind.get(call.param("id"))
        check_if_match(call, item)
        operations = operations_of(call.json())
        return rendered(call, kind, patched(kind, item, operations))

    return run


def patched(kind: Kind, item: dict, operations: list[dict]) -> dict:
    data = {k: v for k, v in copy.deepcopy(item).items() if k not in ("id", "meta")}
    doc = Document(data, kind.schemas)
    for operation in operations:
        run_operation(doc, operation)
    body = {"schemas": [kind.schemas.core.id], **doc.data}
    new = prepare(kind, normalise_resource(body, kind.schemas), item["id"])
    if "password" in data:
        new["password"] = data["password"]
    if new == {k: v for k, v in item.items() if k not in ("id", "meta")}:
        return item  # nothing changed: same version
    return kind.app.replace(kind.name, item["id"], new)
