"""Graph delta queries, `GET /users/delta` and `GET /groups/delta`, as Graph runs them.

What Graph documents (delta-query-overview, user-delta, group-delta, delta-query-groups) and
the sandbox does:

- A round starts with a call without a state token (a full read of what exists now) or with a
  deltaLink (what changed since it). Pages follow `@odata.nextLink` (`$skiptoken`); the last
  page has `@odata.deltaLink` (`$deltatoken`) and never both. Tokens are opaque and carry the
  round's `$select`/`$filter`/`$top`, so links hold nothing else; `$select` may be given again
  with a deltaLink to change what is tracked.
- Objects are shown as they are when their page is read ("Updates made before the initial
  request are summarized on the resource returned as its latest state"); the round's list of
  objects is fixed when it starts, as Graph keeps its sync state server side. The same object
  may come again in a later round ("Your application must be prepared for replays").
- With `$select`, only changes of the selected properties bring an object back; without it
  the default properties are tracked (and, for groups, members).
- Soft-deleted users are `@removed: {"reason": "changed"}` (restorable), purged users and
  deleted groups `{"reason": "deleted"}`; `@removed` may come in the first round too.
- Groups carry `members@delta`: members added, and removed ones with `@removed`, when no
  `$select` is given or it names `members` (or with `$expand=members`). A large group's
  members are split over several pages, the group coming again on each ("you may receive a
  response again containing the same group object").
- `$deltatoken=latest` answers no objects and a deltaLink from now ("sync from now").
- `$filter` only as `id eq '...'` (or several with `or`, at most 50).
- `signInActivity` cannot be selected (400, as reported in microsoft-graph-explorer-v4#3189).
- A deltaLink older than seven days, or unknown, is 400 `syncStateNotFound` ("The sync state
  generation is not found. The delta token is expired and data must be synchronized again.",
  Microsoft 365 Developer Blog, 2020-07-03); after a reset made through the control API it is
  410 Gone `resyncRequired` with a Location header to start again ("Synchronization reset").
- Replication lag (`replication_lag_ms`): an object created or restored less than that ago is
  not in a round yet ("Expect varying delays between the time a change is made ... and the
  time the tracked change is reflected in a delta query response"); the next round has it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox.entra.changes import ALL, changed_after
from sandbox.entra.errors import GraphError, bad_request, error_body
from sandbox.entra.groups import DEFAULT_SELECT as GROUP_DEFAULT
from sandbox.entra.groups import group_view
from sandbox.entra.model import EntraTenant, Group
from sandbox.entra.odata import page_size
from sandbox.entra.router import GROUP_READ, USER_READ, GraphRequest, GraphResponse, router
from sandbox.entra.signins import SIGN_IN
from sandbox.entra.users import DEFAULT_SELECT as USER_DEFAULT
from sandbox.entra.users import SELECTABLE as USER_SELECTABLE
from sandbox.entra.users import view

USER_PAGE = 200
GROUP_PAGE = 100
MEMBER_PAGE = 500  # member references per page, over all the page's groups
FILTER_MAX_IDS = 50  # "There is a limit of 50 filtered objects."
ROUND_TTL_S = 3600.0
MAX_ROUNDS = 64  # open rounds kept per tenant; older ones answer syncStateNotFound
MEMBERS = "members"
GROUP_SELECTABLE = frozenset(n.lower() for n in (*GROUP_DEFAULT, MEMBERS))
_FILTER_ID = re.compile(r"^\s*id\s+eq\s+'([^']+)'\s*$", re.IGNORECASE)
_OR = re.compile(r"\s+or\s+", re.IGNORECASE)


@dataclass
class Query:
    select: list[str] | None  # None: the default properties
    ids: list[str] | None  # from $filter=id eq '...'
    top: int
    members: bool  # groups: whether membership changes are tracked

    def to_json(self) -> dict:
        return {"sel": self.select, "ids": self.ids, "top": self.top, "m": self.members}

    @classmethod
    def from_json(cls, data: dict) -> Query:
        return cls(data["sel"], data["ids"], int(data["top"]), bool(data["m"]))


@dataclass
class Round:
    kind: str  # "users" or "groups"
    since: int
    upto: int
    query: Query
    # Object ids in the order they are served; for groups with their member changes.
    items: list[tuple[str, list[tuple[str, bool]] | None]]
    opened: float


# State tokens ------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(tenant: EntraTenant, data: dict) -> str:
    payload = _b64(json.dumps(data, separators=(",", ":")).encode())
    mac = hmac.new(tenant.delta_secret, payload.encode(), hashlib.sha256).digest()[:16]
    return f"{payload}.{_b64(mac)}"


def sync_state_not_found() -> GraphError:
    return GraphError(
        400,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must "
        "be synchronized again.",
    )


def _verify(tenant: EntraTenant, token: str, kind: str, use: str) -> dict:
    """The token's content; syncStateNotFound for anything this tenant did not issue."""
    payload, _, mac = token.partition(".")
    try:
        expected = hmac.new(tenant.delta_secret, payload.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(_unb64(mac), expected):
            raise ValueError("bad signature")
        data = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        raise sync_state_not_found() from None
    if not isinstance(data, dict) or data.get("k") != kind or data.get("u") != use:
        raise sync_state_not_found()
    return data


# The query of a round ----------------------------------------------------------------------


def _unsupported_in_delta(names: list[str]) -> GraphError:
    return bad_request(
        "Invalid request for delta query: for this entity set, $expand/$select is not "
        f"supported for the following properties: {', '.join(names)}",
        code="BadRequest",
    )


def _select(req: GraphRequest, kind: str) -> list[str] | None:
    raw = req.query.get("$select")
    if not raw:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    known, type_name = (
        (USER_SELECTABLE[0], "microsoft.graph.user")
        if kind == "users"
        else (GROUP_SELECTABLE, "microsoft.graph.group")
    )
    if kind == "users":
        refused = [n for n in names if n.lower() == SIGN_IN.lower()]
        if refused:
            raise _unsupported_in_delta(refused)
    for name in names:
        if name.lower() not in known:
            raise bad_request(
                f"Could not find a property named '{name}' on type '{type_name}'.",
                code="BadRequest",
            )
    return names


def _filter_ids(req: GraphRequest, kind: str) -> list[str] | None:
    text = req.query.get("$filter")
    if not text:
        return None
    ids = []
    for clause in _OR.split(text.strip()):
        found = _FILTER_ID.match(clause)
        if found is None:
            raise bad_request(
                "Unsupported or invalid query filter clause specified for property 'id' of "
                f"resource '{'User' if kind == 'users' else 'Group'}'. Delta queries filter "
                "only by id eq '<id>'.",
                code="Request_UnsupportedQuery",
            )
        ids.append(found[1])
    if len(ids) > FILTER_MAX_IDS:
        raise bad_request(
            f"The number of filtered objects ({len(ids)}) exceeds the limit of {FILTER_MAX_IDS}.",
            code="Request_UnsupportedQuery",
        )
    return ids


def _query(req: GraphRequest, kind: str) -> Query:
    for option in ("$orderby", "$search"):
        if option in req.query:
            raise bad_request(
                f"Query option '{option}' is not supported with delta queries.",
                code="Request_UnsupportedQuery",
            )
    expand = req.query.get("$expand")
    if expand and not (kind == "groups" and expand.strip().lower() == MEMBERS):
        raise _unsupported_in_delta([n.strip() for n in expand.split(",")])
    select = _select(req, kind)
    top = page_size(req.query) if "$top" in req.query else None
    members = kind == "groups" and (
        select is None or bool(expand) or any(n.lower() == MEMBERS for n in select)
    )
    default_top = USER_PAGE if kind == "users" else GROUP_PAGE
    return Query(select, _filter_ids(req, kind), top or default_top, members)


def _tracked(query: Query, kind: str) -> list[str]:
    """The properties whose changes bring an object back (members are tracked apart)."""
    if query.select is None:
        return list(USER_DEFAULT if kind == "users" else GROUP_DEFAULT)
    return [n for n in query.select if n.lower() != MEMBERS]


# Rounds ------------------------------------------------------------------------------------


def _user_items(tenant: EntraTenant, rnd: Round) -> None:
    tracked = _tracked(rnd.query, "users")
    wanted = set(rnd.query.ids) if rnd.query.ids is not None else None
    for user_id in tenant.changes.users_since(rnd.since):
        if wanted is not None and user_id not in wanted:
            continue
        user = tenant.users.get(user_id)
        if user is None:  # purged for good
            if rnd.since:
                rnd.items.append((user_id, None))
            continue
        if user.changed.get(ALL, 0) > rnd.upto:
            continue  # created or restored too recently to be replicated to delta yet
        if (
            user.deleted_at is not None
            or not rnd.since
            or changed_after(user.changed, tracked, rnd.since)
        ):
            rnd.items.append((user_id, None))


def _group_items(tenant: EntraTenant, rnd: Round) -> None:
    query = rnd.query
    tracked = _tracked(query, "groups")
    wanted = set(query.ids) if query.ids is not None else None
    net = tenant.changes.members_since(rnd.since, rnd.upto) if query.members else {}
    groups = sorted(tenant.groups.values(), key=lambda g: g.seq)
    for group in groups:
        if (wanted is not None and group.id not in wanted) or group.changed.get(ALL, 0) > rnd.upto:
            continue
        if not rnd.since:
            members = [(u.id, True) for u in tenant.group_members(group)]
            rnd.items.append((group.id, members if query.members else None))
        elif group.id in net or changed_after(group.changed, tracked, rnd.since):
            changes = list(net.get(group.id, {}).items())
            rnd.items.append((group.id, changes if query.members else None))
    if rnd.since:
        for group_id, seq in tenant.changes.deleted_groups.items():
            if seq > rnd.since and (wanted is None or group_id in wanted):
                rnd.items.append((group_id, None))


def _open_round(tenant: EntraTenant, kind: str, since: int, query: Query) -> tuple[str, Round]:
    now = time.monotonic()
    rounds = tenant.delta_rounds
    for key in [k for k, r in rounds.items() if now - r.opened > ROUND_TTL_S]:
        del rounds[key]
    while len(rounds) >= MAX_ROUNDS:
        del rounds[next(iter(rounds))]
    rnd = Round(kind, since, tenant.settled_seq(), query, [], now)
    (_user_items if kind == "users" else _group_items)(tenant, rnd)
    key = secrets.token_urlsafe(9)
    rounds[key] = rnd
    return key, rnd


# Pages -------------------------------------------------------------------------------------


def _minimal(obj: dict, changed: dict[str, int], since: int) -> dict:
    """Prefer: return=minimal: only what changed since the deltaLink (and the id)."""
    return {
        k: v
        for k, v in obj.items()
        if k in ("id", "@odata.type", "members@delta") or changed_after(changed, [k], since)
    }


def _user_object(tenant: EntraTenant, user_id: str, rnd: Round, minimal: bool) -> dict:
    user = tenant.users.get(user_id)
    if user is None:
        return {"id": user_id, "@removed": {"reason": "deleted"}}
    if user.deleted_at is not None:
        return {"id": user_id, "@removed": {"reason": "changed"}}
    select = rnd.query.select
    obj = view(user, {"$select": ",".join(select)} if select else {})
    obj = {"id": user.id, **obj}  # "The id property is always returned."
    return _minimal(obj, user.changed, rnd.since) if minimal and rnd.since else obj


def _group_object(
    tenant: EntraTenant, group_id: str, rnd: Round, minimal: bool, members: list | None
) -> dict:
    group: Group | None = tenant.groups.get(group_id)
    if group is None:
        # "changed": deleted and restorable (a Microsoft 365 group); "deleted": gone for good
        reason = "changed" if group_id in tenant.deleted_groups else "deleted"
        return {"id": group_id, "@removed": {"reason": reason}}
    props = _tracked(rnd.query, "groups")
    obj = {"id": group.id, **group_view(group, {"$select": ",".join(props)})}
    if members:
        obj["members@delta"] = [
            {"@odata.type": "#microsoft.graph.user", "id": user_id}
            if added
            else {
                "@odata.type": "#microsoft.graph.user",
                "id": user_id,
                "@removed": {"reason": "deleted"},
            }
            for user_id, added in members
        ]
    return _minimal(obj, group.changed, rnd.since) if minimal and rnd.since else obj


def _link(req: GraphRequest, kind: str, key: str, token: str) -> str:
    return f"{req.base_url}/{kind}/delta?{urlencode({key: token}, safe='$')}"


def _delta_link(req: GraphRequest, kind: str, upto: int, query: Query) -> str:
    data = {"u": "delta", "k": kind, "s": upto, "t": time.time(), "q": query.to_json()}
    return _link(req, kind, "$deltatoken", _sign(req.tenant, data))


def _page(
    req: GraphRequest, key: str, rnd: Round, offset: int, member_offset: int
) -> GraphResponse:
    tenant, kind = req.tenant, rnd.kind
    minimal = "return=minimal" in req.headers.get("prefer", "").replace(" ", "").lower()
    value: list[dict] = []
    index, budget = offset, MEMBER_PAGE
    while index < len(rnd.items) and len(value) < rnd.query.top and budget > 0:
        item_id, members = rnd.items[index]
        if kind == "users":
            value.append(_user_object(tenant, item_id, rnd, minimal))
            index += 1
            continue
        chunk = None if members is None else members[member_offset : member_offset + budget]
        value.append(_group_object(tenant, item_id, rnd, minimal, chunk))
        if members is not None and member_offset + len(chunk or []) < len(members):
            member_offset += len(chunk or [])  # the group comes again on the next page
            break
        budget -= len(chunk or [])
        index, member_offset = index + 1, 0
    body: dict[str, Any] = {"@odata.context": f"{req.base_url}/$metadata#{kind}"}
    if index < len(rnd.items):
        token = _sign(tenant, {"u": "skip", "k": kind, "r": key, "o": index, "m": member_offset})
        body["@odata.nextLink"] = _link(req, kind, "$skiptoken", token)
    else:
        body["@odata.deltaLink"] = _delta_link(req, kind, rnd.upto, rnd.query)
    body["value"] = value
    return GraphResponse(200, body)


def _resync(req: GraphRequest, kind: str, query: Query) -> GraphResponse:
    """410 Gone with a Location header that starts a full read again."""
    params = {}
    if query.select:
        params["$select"] = ",".join(query.select)
    if query.ids:
        params["$filter"] = " or ".join(f"id eq '{i}'" for i in query.ids)
    location = f"{req.base_url}/{kind}/delta"
    if params:
        location += "?" + urlencode(params, safe="$,'")
    body = error_body(
        "resyncRequired",
        "The delta token is no longer valid, and the app must reset the sync state.",
    )
    return GraphResponse(410, body, {"Location": location})


def delta(req: GraphRequest, kind: str) -> GraphResponse:
    tenant = req.tenant
    if "$skiptoken" in req.query:
        data = _verify(tenant, req.query["$skiptoken"], kind, "skip")
        rnd = tenant.delta_rounds.get(data.get("r"))
        if rnd is None:
            raise sync_state_not_found()
        return _page(req, data["r"], rnd, int(data["o"]), int(data["m"]))
    token = req.query.get("$deltatoken")
    if token == "latest":  # noqa: S105 - Graph's "sync from now" value, not a secret
        query = _query(req, kind)
        body = {
            "@odata.context": f"{req.base_url}/$metadata#{kind}",
            "@odata.deltaLink": _delta_link(req, kind, tenant.settled_seq(), query),
            "value": [],
        }
        return GraphResponse(200, body)
    since, query = 0, None
    if token:
        data = _verify(tenant, token, kind, "delta")
        query = Query.from_json(data["q"])
        issued = float(data["t"])
        if issued < tenant.delta_resync_before:
            return _resync(req, kind, query)
        if issued < tenant.delta_expired_before or (
            time.time() - issued > tenant.delta_token_lifetime_s
        ):
            raise sync_state_not_found()
        since = int(data["s"])
        if "$select" in req.query:  # "customers can change the properties they want to track"
            select = _select(req, kind)
            members = kind == "groups" and (
                select is None or any(n.lower() == MEMBERS for n in select)
            )
            query = Query(select, query.ids, query.top, members)
    key, rnd = _open_round(tenant, kind, since, query or _query(req, kind))
    return _page(req, key, rnd, 0, 0)


def users_delta(req: GraphRequest) -> GraphResponse:
    return delta(req, "users")


def groups_delta(req: GraphRequest) -> GraphResponse:
    return delta(req, "groups")


for _template in ("/users/delta", "/users/delta()", "/users/microsoft.graph.delta()"):
    router.add("GET", _template, USER_READ, expands=True)(users_delta)
for _template in ("/groups/delta", "/groups/delta()", "/groups/microsoft.graph.delta()"):
    router.add("GET", _template, GROUP_READ, expands=True)(groups_delta)
