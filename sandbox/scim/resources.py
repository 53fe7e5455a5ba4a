"""Users and Groups of one app: validation against the app's state, the wire form (`render`),
projection (`attributes` / `excludedAttributes`, RFC 7644 §3.4.2.5), and listing with filter
and paging (RFC 7644 §3.4.2).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sandbox.scim.errors import ScimError, bad_request, not_found, uniqueness
from sandbox.scim.filter import Compare, parse_filter, paths_in
from sandbox.scim.model import ScimApp
from sandbox.scim.paths import ResourceSchemas
from sandbox.scim.schema import ENTERPRISE_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE, USER_SCHEMA
from sandbox.scim.values import check_required

ENDPOINTS = {"User": "Users", "Group": "Groups"}


@dataclass(frozen=True)
class Kind:
    """A resource type as seen by one app."""

    name: str  # "User" | "Group"
    app: ScimApp
    base: str  # the app's base URL, .../scim/{slug}/v2

    @property
    def schemas(self) -> ResourceSchemas:
        return self.app.user_schemas() if self.name == "User" else self.app.group_schemas()

    @property
    def store(self) -> dict[str, dict]:
        return self.app.store(self.name)

    def location(self, item_id: str) -> str:
        return f"{self.base}/{ENDPOINTS[self.name]}/{item_id}"

    def get(self, item_id: str) -> dict:
        item = self.store.get(item_id)
        if item is None:
            raise not_found(f"no {self.name} with id {item_id!r}")
        return item


# Validation against the app's state ----------------------------------------------------------


def prepare(kind: Kind, data: dict, own_id: str | None = None) -> dict:
    """Required attributes, uniqueness and member references of a resource about to be stored."""
    check_required(data, kind.schemas.core)
    if kind.name == "User":
        _unique(kind, "userName", data["userName"], own_id)
        return data
    _unique(kind, "displayName", data["displayName"], own_id)
    data["members"] = members_of(kind.app, data.get("members") or [])
    if not data["members"]:
        del data["members"]
    return data


def _unique(kind: Kind, attr: str, value: Any, own_id: str | None) -> None:
    """userName is caseExact=false (RFC 7643 §4.1.1), so is displayName here: uniqueness
    compares lower-cased; a clash is 409 uniqueness (RFC 7644 §3.3, §3.12)."""
    if not isinstance(value, str):
        raise bad_request("invalidValue", f"{attr} must be a string")
    wanted = value.lower()
    for item in kind.store.values():
        if item["id"] != own_id and str(item.get(attr, "")).lower() == wanted:
            raise uniqueness(f"{attr} {value!r} is already taken by another {kind.name}")


def members_of(app: ScimApp, members: list[dict]) -> list[dict]:
    """Members are users of this app; an unknown id is 400 invalidValue (RFC 7644 §3.12)."""
    seen, out = set(), []
    for member in members:
        value = member.get("value")
        if not isinstance(value, str) or value not in app.users:
            raise bad_request("invalidValue", f"member {value!r} is not a user of this app")
        if member.get("type", "User") != "User":
            raise bad_request("invalidValue", "members are users here (no nested groups)")
        if value not in seen:
            seen.add(value)
            kept = {"value": value, "type": "User"}
            if member.get("display"):
                kept["display"] = member["display"]
            out.append(kept)
    return out


# Wire form -----------------------------------------------------------------------------------


def render(kind: Kind, item: dict) -> dict:
    body = copy.deepcopy(item)
    body.pop("password", None)  # returned "never" (RFC 7643 §4.1.1)
    meta = body.pop("meta")
    item_id = body.pop("id")
    schemas = [USER_SCHEMA if kind.name == "User" else GROUP_SCHEMA]
    if ENTERPRISE_SCHEMA in body:
        schemas.append(ENTERPRISE_SCHEMA)
    out: dict[str, Any] = {"schemas": schemas, "id": item_id, **body}
    if kind.name == "User":
        groups = [
            {
                "value": g["id"],
                "$ref": Kind("Group", kind.app, kind.base).location(g["id"]),
                "display": g["displayName"],
                "type": "direct",
            }
            for g in kind.app.groups_of(item_id)
        ]
        if groups:
            out["groups"] = groups
    else:
        for member in out.get("members", []):
            member["$ref"] = Kind("User", kind.app, kind.base).location(member["value"])
    out["meta"] = {
        "resourceType": kind.name,
        "created": meta["created"],
        "lastModified": meta["lastModified"],
        "location": kind.location(item_id),
    }
    if kind.app.flavour.etag:
        out["meta"]["version"] = etag(item)
    return out


def etag(item: dict) -> str:
    return f'W/"{item["meta"]["version"]}"'


# Projection (RFC 7644 §3.4.2.5) --------------------------------------------------------------

ALWAYS = {"id", "schemas"}  # returned "always" (RFC 7643 §3.1, §7)


def project(kind: Kind, body: dict, attributes: str | None, excluded: str | None) -> dict:
    if attributes:
        wanted = _names(kind, attributes)
        out = {k: v for k, v in body.items() if k in ALWAYS}
        for urn, attr, sub in wanted:
            source = body.get(urn, {}) if urn else body
            target = out.setdefault(urn, {}) if urn else out
            if attr not in source:
                continue
            if sub is None:
                target[attr] = source[attr]
            elif isinstance(source[attr], list):
                target[attr] = [{sub: v[sub]} for v in source[attr] if sub in v]
            elif sub in source[attr]:
                target.setdefault(attr, {})[sub] = source[attr][sub]
        return {k: v for k, v in out.items() if v != {}}
    if excluded:
        out = copy.deepcopy(body)
        for urn, attr, sub in _names(kind, excluded):
            holder = out.get(urn, {}) if urn else out
            if attr in ALWAYS or attr not in holder:
                continue
            if sub is None:
                del holder[attr]
            elif isinstance(holder[attr], list):
                for value in holder[attr]:
                    value.pop(sub, None)
            else:
                holder[attr].pop(sub, None)
        return out
    return body


def _names(kind: Kind, text: str) -> list[tuple[str | None, str, str | None]]:
    """Names in a comma-separated list, resolved to canonical spelling; unknown ones are
    skipped (RFC 7644 §3.4.2.5 does not make them an error)."""
    out = []
    for name in (n.strip() for n in text.split(",")):
        try:
            path = kind.schemas.resolve(name, "invalidPath")
        except ScimError:
            continue
        out.append((path.urn, path.attr.name, path.sub.name if path.sub else None))
    return out


# Listing (RFC 7644 §3.4.2) -------------------------------------------------------------------


def page_numbers(kind: Kind, start: str | None, count: str | None) -> tuple[int, int]:
    """startIndex is 1-based, below 1 means 1; a negative count means 0; count is capped by
    the flavour's maximum (RFC 7644 §3.4.2.4 lets a provider return fewer)."""
    flavour = kind.app.flavour
    try:
        start_index = int(start) if start not in (None, "") else 1
        wanted = int(count) if count not in (None, "") else flavour.default_count
    except (TypeError, ValueError):
        raise bad_request("invalidValue", "startIndex and count must be integers") from None
    return max(1, start_index), min(max(0, wanted), flavour.max_results)


def listing(kind: Kind, query: dict[str, Any]) -> dict:
    start, count = page_numbers(kind, query.get("startIndex"), query.get("count"))
    items = [render(kind, item) for item in kind.store.values()]  # insertion order: stable
    text = query.get("filter")
    if text is not None:
        tree = parse_filter(text, kind.schemas)
        refused = [p.dotted for p in paths_in(tree) if not kind.app.flavour.filters_on(p.dotted)]
        if refused:
            raise bad_request(
                "invalidFilter", f"this app filters only on userName, not {refused[0]}"
            )
        if kind.app.flavour.refuses_bare_present and isinstance(tree, Compare) and tree.op == "pr":
            raise bad_request("tooMany", "a filter of only 'pr' would return everyone")
        items = [i for i in items if tree.matches(i)]
    page = items[start - 1 : start - 1 + count]
    resources = [
        project(kind, i, query.get("attributes"), query.get("excludedAttributes")) for i in page
    ]
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(items),
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
