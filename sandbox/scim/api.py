"""The /Users and /Groups handlers (RFC 7644 §3.3 create, §3.4.1 get, §3.4.2 query, §3.5.1
replace, §3.5.2 modify, §3.6 delete)."""

from __future__ import annotations

from sandbox.scim.errors import ScimError, bad_request
from sandbox.scim.pipeline import Call, Reply
from sandbox.scim.resources import Kind, etag, listing, prepare, project, render
from sandbox.scim.schema import SEARCH_REQUEST
from sandbox.scim.values import check_schemas, normalise_resource


def kind_of(call: Call, name: str) -> Kind:
    if name == "Group" and not call.app.flavour.groups:
        raise ScimError(404, "this app has no Group resource type")
    return Kind(name, call.app, call.base)


def rendered(call: Call, kind: Kind, item: dict, status: int = 200) -> Reply:
    body = render(kind, item)
    headers = {"Location": body["meta"]["location"]} if status == 201 else {}
    if call.app.flavour.etag:
        headers["ETag"] = etag(item)
    query = call.query
    body = project(kind, body, query.get("attributes"), query.get("excludedAttributes"))
    return Reply(status, body, headers)


def _tags(header: str | None) -> set[str]:
    return {t.strip() for t in (header or "").split(",") if t.strip()}


def none_match(call: Call, item: dict) -> bool:
    """Whether If-None-Match names the current version or is "*", which RFC 9110 §13.1.2
    (RFC 7232 §3.2, which RFC 7644 §3.14 follows) makes false for any current representation:
    a GET is then 304, a write 412."""
    tags = _tags(call.header("if-none-match"))
    return call.app.flavour.etag and ("*" in tags or etag(item) in tags)


def check_if_match(call: Call, item: dict) -> None:
    """A stale If-Match is 412 (RFC 7644 §3.14), as an If-None-Match that holds for the
    current version; ignored where the flavour has no ETags."""
    wanted = call.header("if-match")
    if none_match(call, item):
        raise ScimError(412, "the resource exists at that version (If-None-Match)")
    if not call.app.flavour.etag or wanted is None:
        return
    tags = _tags(wanted)
    if "*" not in tags and etag(item) not in tags:
        raise ScimError(412, "the resource changed since that version (If-Match)")


def body_id_matches(data: dict, item_id: str) -> None:
    """`id` is readOnly and assigned by the server (RFC 7643 §3.1): a PUT whose body names
    another id is an attempt to change it, 400 mutability (RFC 7644 §3.12)."""
    given = next((v for k, v in data.items() if k.lower() == "id"), None)
    if given is not None and given != item_id:
        raise bad_request("mutability", "id is readOnly and cannot change")


def creator(name: str):
    def create(call: Call) -> Reply:
        kind = kind_of(call, name)
        data = call.json()
        check_schemas(data, kind.schemas)
        item = call.app.add(name, prepare(kind, normalise_resource(data, kind.schemas)))
        return rendered(call, kind, item, 201)

    return create


def getter(name: str):
    def get(call: Call) -> Reply:
        kind = kind_of(call, name)
        item = kind.get(call.param("id"))
        if none_match(call, item):
            return Reply(304, None, {"ETag": etag(item)})
        return rendered(call, kind, item)

    return get


def lister(name: str):
    def list_all(call: Call) -> Reply:
        return Reply(200, listing(kind_of(call, name), call.query))

    return list_all


LIST_PARAMETERS = ("attributes", "excludedAttributes")


def searcher(name: str):
    """POST /{Users,Groups}/.search (RFC 7644 §3.4.3): the query in a SearchRequest body."""

    def search(call: Call) -> Reply:
        kind = kind_of(call, name)
        body = call.json()
        if SEARCH_REQUEST.lower() not in {str(s).lower() for s in body.get("schemas") or []}:
            raise bad_request("invalidSyntax", f"'schemas' must be [{SEARCH_REQUEST!r}]")
        query = {}
        for key in ("filter", "startIndex", "count", "attributes", "excludedAttributes"):
            value = next((v for k, v in body.items() if k.lower() == key.lower()), None)
            if value is None:
                continue
            # RFC 7644 §3.4.3: "attributes"/"excludedAttributes" are multi-valued lists of
            # strings, "startIndex"/"count" integers; another shape does not conform to the
            # request schema: 400 invalidSyntax (§3.12). The sandbox read "1" as 1 and a
            # lone string as a list of one.
            if key in LIST_PARAMETERS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise bad_request("invalidSyntax", f"{key} must be a list of strings")
                value = ",".join(value)
            elif key != "filter" and (not isinstance(value, int) or isinstance(value, bool)):
                raise bad_request("invalidSyntax", f"{key} must be an integer")
            query[key] = value if key == "filter" else str(value)
        if not isinstance(query.get("filter", ""), str):
            raise bad_request("invalidFilter", "filter must be a string")
        return Reply(200, listing(kind, query))

    return search


def search_everything(call: Call) -> Reply:
    """A search across resource types at the root (RFC 7644 §3.4.3) is not offered: 501, the
    RFC 7644 §3.12 answer for an operation a provider does not support."""
    raise ScimError(501, "search at the root is not supported; use /Users/.search")


def bulk(call: Call) -> Reply:
    """Bulk (RFC 7644 §3.7) is OPTIONAL and ServiceProviderConfig says `bulk.supported: false`:
    a POST to /Bulk is 501, §3.12's "Service provider does not support the request operation"
    (the sandbox answered 404 "no endpoint", as if the path were wrong)."""
    raise ScimError(501, "bulk operations are not supported (ServiceProviderConfig bulk)")


def me(call: Call) -> Reply:
    """No app here knows which User its bearer is, so none serves "/Me" (RFC 7644 §3.11): "A
    service provider that does NOT support this feature SHOULD respond with HTTP status code
    501 (Not Implemented)" (the sandbox answered 404 "no endpoint", as if the path were
    wrong)."""
    raise ScimError(501, "/Me is not supported: this app does not map its bearer to a User")


def replacer(name: str):
    def replace(call: Call) -> Reply:
        kind = kind_of(call, name)
        item_id = call.param("id")
        item = kind.get(item_id)
        check_if_match(call, item)
        data = call.json()
        check_schemas(data, kind.schemas)
        body_id_matches(data, item_id)
        new = prepare(kind, normalise_resource(data, kind.schemas), item_id)
        if name == "User" and "password" not in new and "password" in item:
            new["password"] = item["password"]  # writeOnly: a PUT that cannot see it keeps it
        return rendered(call, kind, call.app.replace(name, item_id, new))

    return replace


def deleter(name: str):
    def delete(call: Call) -> Reply:
        kind = kind_of(call, name)
        item = kind.get(call.param("id"))
        check_if_match(call, item)
        if name == "User" and call.app.flavour.delete_deactivates:
            call.app.replace(name, item["id"], {**item, "active": False})
        elif name == "User":
            call.app.remove_user(item["id"])
        else:
            del call.app.groups[item["id"]]
        return Reply(204)

    return delete
