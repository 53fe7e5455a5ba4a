"""Graph groups: list, get, create, update, delete, members, members/$ref add and remove,
users/{id}/memberOf."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from sandbox.entra.addresses import check_mail, group_proxies
from sandbox.entra.errors import GraphError, bad_request, not_found, undeclared_directory_property
from sandbox.entra.expand import EXPANDED_MAX, EXPANDED_PAGE, expanded, navigations
from sandbox.entra.group_body import (
    check_create_body,
    check_new_visibility,
    invalid,
    new_visibility,
)
from sandbox.entra.model import EntraTenant, Group, User, new_id, now_iso
from sandbox.entra.odata import (
    USUAL,
    Known,
    check_object_id,
    check_select,
    filterable,
    paged,
    select,
)
from sandbox.entra.onprem import refuse_exchange_create, refuse_group_change
from sandbox.entra.roles import ROLE_PROPERTIES, UNIT_PROPERTIES, directory_objects_of
from sandbox.entra.router import (
    GROUP_READ,
    GROUP_WRITE,
    USER_READ,
    GraphRequest,
    GraphResponse,
    count_response,
    router,
)
from sandbox.entra.rules import RuleError, parse_rule
from sandbox.entra.users import AS_DIRECTORY_OBJECT, EXPANSIONS, MAIL_NICKNAME, find_user
from sandbox.entra.users import DEFAULT_SELECT as USER_SELECT

DEFAULT_SELECT = (
    "id",
    "displayName",
    "description",
    "mail",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "groupTypes",
    "membershipRule",
    "membershipRuleProcessingState",
    "visibility",
    "createdDateTime",
    "onPremisesSyncEnabled",
    "proxyAddresses",
    "isAssignableToRole",  # group.md: "Returned by default"
)
# What $filter takes on each group property: group.md's "Supports $filter (...)" per property
# (api-reference/v1.0/resources/group.md, "Properties"); `in` wherever `eq` works by default,
# and ne / not / endsWith only with the advanced query parameters (concepts/aad-advanced-
# queries.md, "Support for filter by properties"). groupTypes and proxyAddresses are
# collections, filtered through `any` ("The any operator is required to filter expressions on
# multi-valued properties"; group-list.md filters `groupTypes/any(c:c+eq+'Unified')`). The
# sandbox gave every property eq, in, startsWith, ge and le, refused groupTypes/any and
# answered `groupTypes eq 'Unified'` with no group.
FILTERABLE = {
    "id": filterable("eq in", "ne not"),
    "displayName": USUAL,
    "description": filterable("eq in ge le startswith", "ne not"),
    "mailNickname": USUAL,
    "mail": USUAL,
    "securityEnabled": filterable("eq in", "ne not"),
    "mailEnabled": filterable("eq in", "ne not"),
    "onPremisesSyncEnabled": filterable("eq in null", "ne not"),
    "groupTypes": filterable("eq", "not", collection=True),
    "proxyAddresses": filterable("eq ge le startswith", "not endswith", collection=True),
}
# What $select may name: group.md's properties (api-reference/v1.0/resources/group.md,
# "Properties"); any other name is 400 as on /users. Those the sandbox does not hold are null.
SELECTABLE = (
    frozenset(
        n.lower()
        for n in (
            *DEFAULT_SELECT,
            "allowExternalSenders",
            "assignedLabels",
            "assignedLicenses",
            "autoSubscribeNewMembers",
            "classification",
            "deletedDateTime",
            "expirationDateTime",
            "hasMembersWithLicenseErrors",
            "hideFromAddressLists",
            "hideFromOutlookClients",
            "isArchived",
            "isAssignableToRole",
            "isManagementRestricted",
            "isSubscribedByMail",
            "licenseProcessingState",
            "onPremisesDomainName",
            "onPremisesLastSyncDateTime",
            "onPremisesNetBiosName",
            "onPremisesProvisioningErrors",
            "onPremisesSamAccountName",
            "onPremisesSecurityIdentifier",
            "preferredDataLocation",
            "preferredLanguage",
            "renewedDateTime",
            "resourceBehaviorOptions",
            "resourceProvisioningOptions",
            "securityIdentifier",
            "serviceProvisioningErrors",
            "theme",
            "uniqueName",
            "unseenCount",
        )
    ),
    "microsoft.graph.group",
)
# memberOf lists groups, directory roles and administrative units (user-list-memberof.md): a
# $select name that is a property of none of them is 400, as on /groups; each object carries
# only the selected properties its own type has.
MEMBER_OF_KNOWN: Known = (
    SELECTABLE[0] | ROLE_PROPERTIES | UNIT_PROPERTIES,
    "microsoft.graph.directoryObject",
)
# A group's relationships (resources/group.md, "Relationships"), those annotated
# `expandable: false`, and the one the sandbox expands (sandbox/entra/expand.py).
NAVIGATIONS = navigations(
    "microsoft.graph.group",
    "acceptedSenders appRoleAssignments calendar calendarView conversations createdOnBehalfOf "
    "drive drives events extensions groupLifecyclePolicies memberOf members "
    "membersWithLicenseErrors onenote owners permissionGrants photo photos planner "
    "rejectedSenders settings sites team threads transitiveMemberOf transitiveMembers",
    "acceptedSenders calendar calendarView conversations events photo photos rejectedSenders "
    "threads",
    "members",
)
# The id at the end of an @odata.id: .../directoryObjects/{id}, .../users/{id} or users('{id}').
_REF = re.compile(r"/(?:directoryObjects|users)(?:/|\(')(?P<id>[^/'()]+)'?\)?/?$")


def group_view(
    group: Group,
    query: dict[str, str],
    known: Known | None = None,
    own: frozenset[str] | None = None,
) -> dict[str, Any]:
    props = {"proxyAddresses": group_proxies(group.props.get("mail")), **group.props}
    obj = {**props, "@odata.type": "#microsoft.graph.group"}
    return select(obj, query, DEFAULT_SELECT, known, own)


def member_view(user: User, query: dict[str, str]) -> dict[str, Any]:
    obj = {**user.props, "@odata.type": "#microsoft.graph.user"}
    return select(obj, query, USER_SELECT, AS_DIRECTORY_OBJECT)


def find_group(req: GraphRequest, key: str) -> Group:
    check_object_id(key)  # a group is keyed by its GUID only: anything else is 400, not 404
    group = req.tenant.groups.get(key)
    if group is None:
        raise not_found(key)
    if req.tenant.behaviour.is_replicating(group.created_mono):
        raise not_found(key)
    return group


def expansion(req: GraphRequest) -> str | None:
    return expanded(req.query, NAVIGATIONS, SELECTABLE[0], req.advanced_query())


def with_expansion(req: GraphRequest, group: Group, name: str | None, body: dict) -> dict:
    if name == "members":
        members = req.tenant.group_members(group)[:EXPANDED_MAX]
        body["members"] = [member_view(u, {}) for u in members]
    return body


def matching_groups(req: GraphRequest) -> list[Group]:
    groups = list(req.tenant.groups.values())
    predicate = req.filter(FILTERABLE, "Group")
    if predicate is not None:
        groups = [g for g in groups if predicate(g.props)]
    return groups


@router.add("GET", "/groups", GROUP_READ, expands=True)
def list_groups(req: GraphRequest) -> GraphResponse:
    check_select(req.query, SELECTABLE)
    name = expansion(req)
    cap = None if name is None else EXPANDED_PAGE
    url = f"{req.base_url}/groups"
    page = paged(matching_groups(req), req.query, url, f"{req.base_url}/$metadata#groups", cap)
    page["value"] = [
        with_expansion(req, g, name, group_view(g, req.query, SELECTABLE)) for g in page["value"]
    ]
    return GraphResponse(200, page)


@router.add("GET", "/groups/$count", GROUP_READ)
def count_groups(req: GraphRequest) -> GraphResponse:
    return count_response(req, matching_groups(req))


@router.add("GET", "/groups/{id}", GROUP_READ, expands=True)
def get_group(req: GraphRequest) -> GraphResponse:
    name = expansion(req)
    group = find_group(req, req.params["id"])
    return GraphResponse(
        200, with_expansion(req, group, name, group_view(group, req.query, SELECTABLE))
    )


def new_group_props(data: dict) -> dict[str, Any]:
    """Validated properties for a new group, as the control API and POST /groups accept."""
    for name in ("displayName", "mailNickname"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            raise bad_request(f"Invalid value specified for property '{name}' of resource 'Group'.")
    for name in ("mailEnabled", "securityEnabled"):
        if not isinstance(data.get(name), bool):
            raise bad_request(f"Invalid value specified for property '{name}' of resource 'Group'.")
    _check_nickname(data["mailNickname"])
    _check_display_name(data["displayName"])
    group_types = data.get("groupTypes") or []
    rule = data.get("membershipRule")
    if "DynamicMembership" in group_types:
        try:
            parse_rule(rule or "")
        except RuleError as exc:
            raise bad_request(str(exc)) from None
    elif rule:
        raise bad_request("One or more property values specified are invalid.")
    return {
        "id": new_id(),
        "displayName": data["displayName"],
        "description": data.get("description"),
        "mail": None,
        "proxyAddresses": [],
        "mailEnabled": data["mailEnabled"],
        "mailNickname": data["mailNickname"],
        "securityEnabled": data["securityEnabled"],
        "groupTypes": list(group_types),
        "membershipRule": rule if "DynamicMembership" in group_types else None,
        "membershipRuleProcessingState": "On" if "DynamicMembership" in group_types else None,
        "visibility": new_visibility(data),
        "createdDateTime": now_iso(),
    }


@router.add("POST", "/groups", GROUP_WRITE)
def create_group(req: GraphRequest) -> GraphResponse:
    data = req.json()
    check_create_body(data, req.tenant.apps[req.client_id].permissions)
    props = new_group_props(data)
    refuse_exchange_create(props)
    if data.get("isAssignableToRole") is True:
        props["isAssignableToRole"] = True
    if "Unified" in props["groupTypes"]:  # a Microsoft 365 group gets its address at once
        give_mail(req.tenant, props, f"{props['mailNickname']}@{req.tenant.domains[0]}")
    group = Group(props, created_mono=time.monotonic())
    req.tenant.add_group(group)
    return GraphResponse(201, group_view(group, {}))


def give_mail(tenant: EntraTenant, props: dict[str, Any], mail: str) -> None:
    """A new group's mail and proxyAddresses; 400 ObjectConflict when another object holds
    the address (addresses.py)."""
    check_mail(tenant, mail, None)
    props["mail"] = mail
    props["proxyAddresses"] = group_proxies(mail)


def _check_nickname(nickname: str) -> None:
    """group.md: "Maximum length is 64 characters. This property can contain only characters
    in the ASCII character set 0 - 127 except the following characters: @ () \\ [] " ; : <> ,
    SPACE", as a user's (the sandbox stored a space or 65 characters); the text Graph gives
    is not published: its usual invalid-value 400."""
    if not MAIL_NICKNAME.match(nickname):
        raise bad_request(
            "Invalid value specified for property 'mailNickname' of resource 'Group'."
        )


def _check_display_name(name: str) -> None:
    """group.md: displayName "Maximum length is 256 characters", as a user's (the sandbox took
    any length); Graph's text for it is not published: its usual invalid-value 400."""
    if len(name) > DISPLAY_NAME_MAX:
        raise bad_request("Invalid value specified for property 'displayName' of resource 'Group'.")


DISPLAY_NAME_MAX = 256
UPDATABLE = {"displayName": str, "description": str, "mailNickname": str, "visibility": str}


@router.add("PATCH", "/groups/{id}", GROUP_WRITE)
def update_group(req: GraphRequest) -> GraphResponse:
    group = find_group(req, req.params["id"])
    data = {k: v for k, v in req.json().items() if not k.startswith("@odata.")}
    for key, value in data.items():
        if key == "membershipRule" and group.rule is not None:
            try:
                parse_rule(value if isinstance(value, str) else "")
            except RuleError as exc:
                raise bad_request(str(exc)) from None
            continue
        kind = UPDATABLE.get(key)
        if kind is None:
            raise undeclared_directory_property(key)
        if value is not None and not isinstance(value, kind):
            raise bad_request(f"Invalid value specified for property '{key}' of resource 'Group'.")
        if key in ("displayName", "mailNickname") and not (value or "").strip():
            raise bad_request(f"Invalid value specified for property '{key}' of resource 'Group'.")
        if key == "mailNickname":
            _check_nickname(value)
        if key == "displayName":
            _check_display_name(value)
        if key == "visibility" and value is not None:
            check_new_visibility(group.props.get("visibility"), value)
            if group.props.get("isAssignableToRole") is True and value == "Public":
                raise invalid("visibility")  # "Groups assignable to roles are always Private"
    refuse_group_change(group)
    group.props.update(data)
    req.tenant.touch_group(group, *data)
    if "membershipRule" in data:
        req.tenant.apply_rule(group)
    return GraphResponse(204)


@router.add("DELETE", "/groups/{id}", GROUP_WRITE)
def delete_group(req: GraphRequest) -> GraphResponse:
    # Security groups are deleted for good; Microsoft 365 groups go to deletedItems for 30
    # days (EntraTenant.delete_group; deleted_items.py).
    req.tenant.delete_group(find_group(req, req.params["id"]))
    return GraphResponse(204)


@router.add("GET", "/groups/{id}/members", GROUP_READ)
def list_members(req: GraphRequest) -> GraphResponse:
    group = find_group(req, req.params["id"])
    check_select(req.query, AS_DIRECTORY_OBJECT)
    url = f"{req.base_url}/groups/{group.id}/members"
    members = req.tenant.group_members(group)
    page = paged(members, req.query, url, f"{req.base_url}/$metadata#directoryObjects")
    page["value"] = [member_view(u, req.query) for u in page["value"]]
    return GraphResponse(200, page)


def refuse_dynamic(group: Group) -> None:
    # Graph will not change the members of a rule-based group; it answers as for a
    # permission problem, which is what trips naive code.
    if group.rule is not None:
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


ROLE_WRITE = "RoleManagement.ReadWrite.Directory"


def refuse_role_assignable(req: GraphRequest, group: Group) -> None:
    """group-post-members.md, group-delete-members.md: "To add [remove] members to a
    role-assignable group, the calling user must also be assigned the
    RoleManagement.ReadWrite.Directory permission"."""
    permissions = req.tenant.apps[req.client_id].permissions
    if group.props.get("isAssignableToRole") is True and ROLE_WRITE not in permissions:
        raise GraphError(
            403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
        )


@router.add("POST", "/groups/{id}/members/$ref", GROUP_WRITE)
def add_member(req: GraphRequest) -> GraphResponse:
    group = find_group(req, req.params["id"])
    ref = req.json().get("@odata.id")
    match = _REF.search(ref) if isinstance(ref, str) else None
    if match is None:
        raise bad_request(f"Invalid URL format specified in @odata.id: {ref!r}.", "BadRequest")
    user = find_user(req, match["id"])
    refuse_dynamic(group)
    refuse_group_change(group)
    refuse_role_assignable(req, group)
    if user.id in group.members:
        raise bad_request(
            "One or more added object references already exist for the following modified "
            "properties: 'members'."
        )
    req.tenant.add_member(group, user)
    return GraphResponse(204)


@router.add("DELETE", "/groups/{id}/members/{member}/$ref", GROUP_WRITE)
def remove_member(req: GraphRequest) -> GraphResponse:
    group = find_group(req, req.params["id"])
    refuse_dynamic(group)
    refuse_group_change(group)
    refuse_role_assignable(req, group)
    member = req.params["member"]
    if member not in group.members:
        raise not_found(member)
    req.tenant.remove_member(group, member)
    return GraphResponse(204)


def expanded_member_of(req: GraphRequest, user: User) -> list[dict[str, Any]]:
    items = [group_view(g, {}, own=SELECTABLE[0]) for g in req.tenant.stale_groups_of(user)]
    items += directory_objects_of(replace(req, query={}), user)
    return items[:EXPANDED_MAX]


EXPANSIONS["memberOf"] = expanded_member_of


@router.add("GET", "/users/{id}/memberOf", USER_READ)
def member_of(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    check_select(req.query, MEMBER_OF_KNOWN)
    own = SELECTABLE[0]
    items = [group_view(g, req.query, own=own) for g in req.tenant.stale_groups_of(user)]
    items += directory_objects_of(req, user)  # directory roles, administrative units
    url = f"{req.base_url}/users/{user.id}/memberOf"
    return GraphResponse(
        200, paged(items, req.query, url, f"{req.base_url}/$metadata#directoryObjects")
    )
