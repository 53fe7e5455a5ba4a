"""The SCIM reads of a tenant: users by filter and page, one user, the role templates as
groups. Filters (RFC 7644 §3.4.2.2) are run by the database: `provisioning/scim/filters.py`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import QueryDict
from scim2_models import InvalidValueException, NotFoundException

from portal.fields import MAX_ID
from provisioning.models import Identity
from provisioning.scim.filters import GROUP, USER, filter_q, order_of
from provisioning.scim.resources import MAX_RESULTS, user_id_q
from provisioning.scim.service import visible
from tenants.models import RoleTemplate, Tenant


@dataclass
class UserPage:
    people: list[Identity]
    total: int
    start: int


@dataclass
class GroupPage:
    groups: list[tuple[RoleTemplate, list[Identity]]]
    total: int
    start: int


def _paging(params: QueryDict) -> tuple[int, int]:
    """(startIndex, count): RFC 7644 §3.4.2.4, a start below 1 is 1, a negative count 0,
    and no page holds more than MAX_RESULTS. A start past any table (beyond a bigint, which
    the database refuses as an OFFSET) is the last one a bigint holds: an empty page."""
    start = _int(params, "startIndex", 1)
    count = _int(params, "count", MAX_RESULTS)
    return min(max(start, 1), MAX_ID), min(max(count, 0), MAX_RESULTS)


_INTEGER = re.compile(r"([+-]?)0*([0-9]+)")
# More digits than any bound here has: such a number is read as this many nines, which every
# bound clamps as it would the number itself (int() refuses past 4,300 digits: a 500).
_MAX_DIGITS = 20


def _int(params: QueryDict, name: str, default: int) -> int:
    """An integer as JSON writes one, else invalidValue (RFC 7644 §3.12 Table 9, for a GET):
    ignored, a client asking for its third page got the first. int() alone would also take
    "1_0" and digits of other scripts."""
    value = params.get(name)
    if value in (None, ""):
        return default
    found = _INTEGER.fullmatch(value)
    if found is None:
        raise InvalidValueException(detail=f"{name} takes an integer ({value[:32]!r} given).")
    sign, digits = found.groups()
    if len(digits) > _MAX_DIGITS:
        digits = "9" * _MAX_DIGITS
    return int(sign + digits)


def _sorted(rows, params: QueryDict, schema):
    """In the order `sortBy` and `sortOrder` ask (RFC 7644 §3.4.2.3); else by id. A
    `sortOrder` without `sortBy` has nothing to apply to."""
    if not params.get("sortBy"):
        return rows
    return rows.order_by(*order_of(params["sortBy"], params.get("sortOrder"), schema))


def page_of_users(tenant: Tenant, params: QueryDict) -> UserPage:
    people = visible(tenant)
    if params.get("filter"):
        people = people.filter(filter_q(params["filter"], USER))
    people = _sorted(people, params, USER)
    start, count = _paging(params)
    total = people.count()
    chosen = list(people[start - 1 : start - 1 + count]) if count else []
    return UserPage(chosen, total, start)


def user_or_404(tenant: Tenant, user_id: str) -> Identity:
    """The visible person whose current SCIM id this is: a deleted resource's id, even of a
    person created again since, is 404 (RFC 7644 §3.6)."""
    same = user_id_q(user_id)
    found = visible(tenant).filter(same).first() if same is not None else None
    if found is None:
        raise NotFoundException(detail=f"No user {user_id[:64]}.")
    return found


def _members(template: RoleTemplate) -> list[Identity]:
    return list(visible(template.tenant).filter(role_templates=template))


def page_of_groups(tenant: Tenant, params: QueryDict) -> GroupPage:
    templates = RoleTemplate.objects.filter(tenant=tenant).order_by("pk")
    if params.get("filter"):
        templates = templates.filter(filter_q(params["filter"], GROUP))
    templates = _sorted(templates, params, GROUP)
    start, count = _paging(params)
    total = templates.count()
    chosen = list(templates[start - 1 : start - 1 + count]) if count else []
    return GroupPage([(t, _members(t)) for t in chosen], total, start)


def group_or_404(tenant: Tenant, group_id: str) -> tuple[RoleTemplate, list[Identity]]:
    found = (
        RoleTemplate.objects.filter(tenant=tenant, pk=int(group_id)).first()
        if group_id.isascii() and group_id.isdigit() and len(group_id) < 19
        else None
    )
    if found is None:
        raise NotFoundException(detail=f"No group {group_id[:64]}.")
    return found, _members(found)
