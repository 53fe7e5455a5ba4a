"""Listing collections the way Okta does: `search`/`filter` expressions, `limit` + `after`
cursor paging with `Link` headers for self and next, one header each (okta-developer-docs
users/index.md, List Users: `Link: <…>; rel="self"` and `Link: <…>; rel="next"` on lines of
their own; support.okta.com "Pagination Overview": "see two link headers")."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

from .errors import invalid_search, validation_failed
from .pipeline import Call
from .query import Analysed, Lookup, QueryError, analyse

T = TypeVar("T")


def _id(item) -> str:
    return item.id


def limit_param(call: Call, default: int, maximum: int, minimum: int | None = None) -> int:
    """`limit`: above `maximum` gives `maximum`. Where Okta's OpenAPI gives the list a
    `minimum` (the okta SDK 3.x's `Field(ge=…)`: group rules 1, an app's users 1, an app's
    groups 20), a smaller one is 400 E0000001 on `limit` (Okta's text is not published);
    elsewhere (users, groups: no minimum published) one below 1 reads as the default."""
    raw = call.query("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_failed("limit", "must be a number") from None
    if minimum is not None and value < minimum:
        raise validation_failed("limit", f"must be at least {minimum}")
    return default if value < 1 else min(value, maximum)


def link(call: Call, path: str, params: dict[str, str], rel: str) -> str:
    query = f"?{urlencode(params)}" if params else ""
    return f'<{call.base}{path}{query}>; rel="{rel}"'


def page(
    call: Call,
    items: Sequence[T],
    path: str,
    default: int = 200,
    maximum: int = 200,
    key: Callable[[T], str] = _id,
    minimum: int | None = None,
) -> tuple[list[T], dict[str, list[str]]]:
    """One page of `items` (in id order, which is creation order) and its Link header.

    `path` is the collection's path under the org URL, e.g. "/api/v1/users"; `after` is the
    id of the last item of the previous page; `minimum` as `limit_param`'s.
    """
    limit = limit_param(call, default, maximum, minimum)
    after = call.query("after")
    ordered = sorted(items, key=key)
    if after:
        ordered = [item for item in ordered if key(item) > after]
    chosen = ordered[:limit]
    params = {k: v for k, v in call.request.query_params.items() if k not in ("after", "limit")}
    self_params = {**params, **({"after": after} if after else {}), "limit": str(limit)}
    links = [link(call, path, self_params, "self")]
    if len(ordered) > limit:
        next_params = {**params, "after": key(chosen[-1]), "limit": str(limit)}
        links.append(link(call, path, next_params, "next"))
    return chosen, {"Link": links}


def sort_value(value: Any) -> tuple:
    """A `sortBy` value, comparable whatever its type: none first, then numbers, then strings
    without regard to case, then anything else by its JSON. Okta publishes only the tie-break
    (by id), not how it orders missing values or types: this is the sandbox's."""
    if value is None:
        return (0, 0.0, "")
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, float(value), "")
    if isinstance(value, str):
        return (2, 0.0, value.casefold())
    return (3, 0.0, json.dumps(value, sort_keys=True))


def sorted_page(
    call: Call, found: Sequence[T], path: str, value_of: Callable[[T], Any], maximum: int
) -> tuple[list[T], dict[str, list[str]]]:
    """One page of a search ordered by `sortBy` / `sortOrder`, the okta SDK 3.x's words on
    users and groups alike: "Specifies the field to sort by (for search queries only) ...
    any single property ... [items] with the same value for the `sortBy` property are ordered
    by `id`"; `sortOrder` "`asc` or `desc`". `found` comes in id order; the `after` cursor
    names the last item of the page before."""
    descending = (call.query("sortOrder") or "asc").strip().lower() == "desc"
    ordered = sorted(found, key=_id)
    # a stable sort: items of one value stay in id order, whichever way the values go
    ordered.sort(key=lambda item: sort_value(value_of(item)), reverse=descending)
    limit = limit_param(call, maximum, maximum)
    after = call.query("after")
    start = 0
    if after:
        ids = [_id(item) for item in ordered]
        start = ids.index(after) + 1 if after in ids else len(ordered)
    chosen = ordered[start : start + limit]
    params = {k: v for k, v in call.request.query_params.items() if k not in ("after", "limit")}
    self_params = {**params, **({"after": after} if after else {}), "limit": str(limit)}
    links = [link(call, path, self_params, "self")]
    if start + limit < len(ordered):
        next_params = {**params, "after": _id(chosen[-1]), "limit": str(limit)}
        links.append(link(call, path, next_params, "next"))
    return chosen, {"Link": links}


def page_matching(
    call: Call,
    ordered: Sequence[T],
    keep: Callable[[T], bool],
    path: str,
    key: Callable[[T], str] = _id,
) -> tuple[list[T], dict[str, list[str]]]:
    """As `page`, over `ordered` (already in key order) and only the items `keep` accepts,
    looking no further than the page needs: a 50,000-user org pages in constant time."""
    limit = limit_param(call, 200, 200)
    after = call.query("after")
    start = bisect.bisect_right(ordered, after, key=key) if after else 0
    chosen: list[T] = []
    more = False
    for index in range(start, len(ordered)):
        item = ordered[index]
        if keep(item):
            if len(chosen) == limit:
                more = True
                break
            chosen.append(item)
    params = {k: v for k, v in call.request.query_params.items() if k not in ("after", "limit")}
    self_params = {**params, **({"after": after} if after else {}), "limit": str(limit)}
    links = [link(call, path, self_params, "self")]
    if more:
        links.append(
            link(call, path, {**params, "after": key(chosen[-1]), "limit": str(limit)}, "next")
        )
    return chosen, {"Link": links}


def analysed(expression: str, lookup: Lookup, ignore_case: bool = True) -> Analysed:
    """An Okta `search`/`filter` expression compiled, with the clauses it uses; E0000031 when
    it is malformed."""
    try:
        return analyse(expression, lookup, ignore_case)
    except QueryError as error:
        raise invalid_search(str(error)) from None


def matching(items: Sequence[T], expression: str, lookup: Lookup) -> list[T]:
    """The items an Okta `search`/`filter` expression selects; E0000031 when it is malformed."""
    predicate = analysed(expression, lookup).predicate
    return [item for item in items if predicate(item)]
