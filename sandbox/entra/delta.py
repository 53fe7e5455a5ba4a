"""Graph users/delta: a full read ending in a deltaLink, then only what changed since.

A change is any create, update, licence change, delete or restore (the user's `seq`). Soft
deleted users come back as `@removed` with reason "changed"; users purged for good are not
reported (the real service reports them with reason "deleted").
"""

from __future__ import annotations

from urllib.parse import urlencode

from sandbox.entra.errors import bad_request
from sandbox.entra.odata import decode_skiptoken, encode_skiptoken
from sandbox.entra.router import USER_READ, GraphRequest, GraphResponse, router
from sandbox.entra.users import view

PAGE = 200


def _link(req: GraphRequest, key: str, data: dict) -> str:
    query = {k: v for k, v in req.query.items() if k in ("$select", "$filter")}
    query[key] = encode_skiptoken(data)
    return f"{req.base_url}/users/delta?{urlencode(query, safe='$,()')}"


def _cursor(req: GraphRequest) -> tuple[int, int, int]:
    """(changes after, changes up to, offset) from the links' tokens, or a fresh full read."""
    if "$skiptoken" in req.query:
        cursor = decode_skiptoken(req.query["$skiptoken"])
        return int(cursor["s"]), int(cursor["u"]), int(cursor["o"])
    since = 0
    if "$deltatoken" in req.query:
        since = int(decode_skiptoken(req.query["$deltatoken"])["s"])
    return since, req.tenant.seq, 0


def users_delta(req: GraphRequest) -> GraphResponse:
    tenant = req.tenant
    try:
        since, upto, offset = _cursor(req)
    except (KeyError, TypeError, ValueError):
        raise bad_request("Invalid delta or skip token.", code="BadRequest") from None
    changed = sorted(
        (u for u in tenant.users.values() if since < u.seq <= upto), key=lambda u: u.seq
    )
    if since == 0:
        changed = [u for u in changed if u.deleted_at is None]
    page = changed[offset : offset + PAGE]
    items = [
        {"id": u.id, "@removed": {"reason": "changed"}}
        if u.deleted_at is not None
        else view(u, req.query)
        for u in page
    ]
    body: dict = {"@odata.context": f"{req.base_url}/$metadata#users", "value": items}
    if offset + PAGE < len(changed):
        body["@odata.nextLink"] = _link(
            req, "$skiptoken", {"s": since, "u": upto, "o": offset + PAGE}
        )
    else:
        body["@odata.deltaLink"] = _link(req, "$deltatoken", {"s": upto})
    return GraphResponse(200, body)


for _template in ("/users/delta", "/users/delta()"):
    router.add("GET", _template, USER_READ)(users_delta)
