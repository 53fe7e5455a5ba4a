"""The SCIM reads of a tenant: users by filter and page, one user, the role templates as
groups. Filters: `userName` and `externalId` with `eq`, and an `and` of those (the lookups an
identity provider makes before it creates or links a user); groups by `displayName eq`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.http import QueryDict
from scim2_models import InvalidFilterException, NotFoundException, ScimFilter
from scim2_models.path.expressions import CompareOperator, Comparison, LogicalExpr, LogicalOperator

from portal.fields import MAX_ID
from provisioning.models import Identity
from provisioning.scim.resources import MAX_RESULTS
from provisioning.scim.service import visible
from tenants.models import RoleTemplate, Tenant

# The schema's attribute name -> its lookup; a filter's name matches in any case.
USER_FILTERS = {"userName": "username__iexact", "externalId": "external_id"}
GROUP_FILTERS = {"displayName": "name__iexact"}
MAX_FILTER_LENGTH = 1000


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


def filter_q(text: str, fields: dict[str, str]) -> Q:
    """The filter as a query, or InvalidFilterException for what is not supported."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail="The filter is too long.")
    try:
        node = ScimFilter(text).ast
    except (InvalidFilterException, ValueError) as exc:
        raise InvalidFilterException(detail=f"The filter cannot be read: {exc}") from None
    return _q(node, fields)


def _q(node, fields: dict[str, str]) -> Q:
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        query = Q()
        for term in node.terms:
            query &= _q(term, fields)
        return query
    if isinstance(node, Comparison) and node.op == CompareOperator.eq:
        path = node.attr_path
        uri = (path.uri or "").casefold()
        if uri in ("", "urn:ietf:params:scim:schemas:core:2.0:user") and not path.sub_attr:
            lookup = {k.casefold(): v for k, v in fields.items()}.get(path.attr.casefold())
            if lookup and isinstance(node.value, str):
                return Q(**{lookup: node.value})
    supported = " or ".join(f"{name} eq" for name in fields)
    raise InvalidFilterException(
        detail=f"Only {supported} (joined by and) can be filtered on here."
    )


def _paging(params: QueryDict) -> tuple[int, int]:
    """(startIndex, count): RFC 7644 §3.4.2.4, a start below 1 is 1, a negative count 0,
    and no page holds more than MAX_RESULTS. A start past any table (beyond a bigint, which
    the database refuses as an OFFSET) is the last one a bigint holds: an empty page."""
    start = _int(params.get("startIndex"), 1)
    count = _int(params.get("count"), MAX_RESULTS)
    return min(max(start, 1), MAX_ID), min(max(count, 0), MAX_RESULTS)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def page_of_users(tenant: Tenant, params: QueryDict) -> UserPage:
    people = visible(tenant)
    if params.get("filter"):
        people = people.filter(filter_q(params["filter"], USER_FILTERS))
    start, count = _paging(params)
    total = people.count()
    chosen = list(people[start - 1 : start - 1 + count]) if count else []
    return UserPage(chosen, total, start)


def user_or_404(tenant: Tenant, user_id: str) -> Identity:
    found = (
        visible(tenant).filter(pk=int(user_id)).first()
        if user_id.isascii() and user_id.isdigit() and len(user_id) < 19
        else None
    )
    if found is None:
        raise NotFoundException(detail=f"No user {user_id[:64]}.")
    return found


def _members(template: RoleTemplate) -> list[Identity]:
    return list(visible(template.tenant).filter(role_templates=template))


def page_of_groups(tenant: Tenant, params: QueryDict) -> GroupPage:
    templates = RoleTemplate.objects.filter(tenant=tenant).order_by("pk")
    if params.get("filter"):
        templates = templates.filter(filter_q(params["filter"], GROUP_FILTERS))
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
