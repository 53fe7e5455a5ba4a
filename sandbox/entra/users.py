"""Graph users: create, get, list, update, soft delete, restore, revoke sessions."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

from sandbox.countries import ISO_3166_ALPHA_2
from sandbox.entra.addresses import check_mail, with_mail
from sandbox.entra.errors import (
    GraphError,
    bad_request,
    not_found,
    object_conflict,
    undeclared_directory_property,
)
from sandbox.entra.expand import EXPANDED_PAGE, expanded, navigations
from sandbox.entra.model import (
    EntraTenant,
    User,
    direct_of,
    new_id,
    now_iso,
    unset_properties,
)
from sandbox.entra.odata import check_select, filterable, ordered, paged, select
from sandbox.entra.onprem import SYNC_PROPERTIES, refuse_synced_user_update
from sandbox.entra.roles import check_sensitive_action, check_user_update
from sandbox.entra.router import (
    USER_READ,
    USER_WRITE,
    GraphRequest,
    GraphResponse,
    count_response,
    router,
)
from sandbox.entra.signins import SIGN_IN, SIGN_IN_PAGE, check_access, check_key, selects_sign_in

DEFAULT_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
REQUIRED = ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile")
WRITABLE = {
    "accountEnabled": bool,
    "displayName": str,
    "givenName": str,
    "surname": str,
    "mailNickname": str,
    "userPrincipalName": str,
    "mail": str,
    "usageLocation": str,
    "department": str,
    "jobTitle": str,
    "officeLocation": str,
    "mobilePhone": str,
    "businessPhones": list,
    "preferredLanguage": str,
    "employeeId": str,
    "employeeType": str,
    "employeeHireDate": str,
    "companyName": str,
    "city": str,
    "state": str,
    "country": str,
    "streetAddress": str,
    "postalCode": str,
    "otherMails": list,
    "passwordPolicies": str,
    "passwordProfile": dict,
    "onPremisesImmutableId": str,  # needed at the create on a federated domain (below)
    # user.md: "A String value that can be used to classify user types in your directory,
    # such as Member and Guest"; an admin turns a member into a guest and back (update user).
    "userType": str,
}
# Properties user.md marks read-only: a body that sets one is 400 "Property 'x' is read-only
# and cannot be set." (the text Graph gave for mail while it was read-only, microsoft-graph-
# docs-contrib#6969, and for refreshTokensValidFromDateTime, #8042), not "does not exist".
READ_ONLY = frozenset(
    {
        "id",
        "createdDateTime",
        "deletedDateTime",
        "lastPasswordChangeDateTime",
        "signInSessionsValidFromDateTime",
        "refreshTokensValidFromDateTime",
        "assignedLicenses",
        "assignedPlans",
        "licenseAssignmentStates",
        "creationType",
        "externalUserState",
        "securityIdentifier",
        "onPremisesSyncEnabled",
        "onPremisesLastSyncDateTime",
        "signInActivity",
    }
)
# "Maximum length is N characters" in api-reference/v1.0/resources/user.md (employeeId: 16, in
# user-update.md); https://learn.microsoft.com/graph/api/resources/user#properties. Graph's text
# for a value over its bound is not published: the sandbox gives its usual invalid-value 400.
MAX_LENGTH = {
    "displayName": 256,
    "givenName": 64,
    "surname": 64,
    "mailNickname": 64,
    "department": 64,
    "jobTitle": 128,
    "officeLocation": 128,
    "companyName": 64,
    "mobilePhone": 64,
    "city": 128,
    "state": 128,
    "country": 128,
    "streetAddress": 1024,
    "postalCode": 40,
    "employeeId": 16,
}
# user.md, otherMails: "Can store up to 250 values, each with a limit of 250 characters."
OTHER_MAILS_MOST = 250
# $filter on users as includes/filter-directory-objects.md has it: the operators each property
# takes by default, and those that need the advanced query parameters; "in" wherever "eq" works
# by default; endsWith only on mail, otherMails, proxyAddresses and userPrincipalName, advanced.
FILTERABLE = {
    "id": filterable("eq in", "ne not"),
    "userPrincipalName": filterable("eq le in startswith", "ne endswith"),
    "mail": filterable("eq ge le in startswith", "ne endswith"),
    "otherMails": filterable("eq ge le in startswith", "ne endswith", collection=True),
    "proxyAddresses": filterable("eq ge le startswith", "ne null endswith", collection=True),
    "mailNickname": filterable("eq ge le in startswith", "ne null"),
    "displayName": filterable("eq in startswith", "ne not null"),
    "givenName": filterable("eq ge le in startswith", "ne null"),
    "surname": filterable("eq ge le in startswith", "ne null"),
    "department": filterable("eq ge le in startswith", "ne not null"),
    "jobTitle": filterable("eq ge le in", "ne null"),
    "accountEnabled": filterable("eq in", "ne not ge le"),
    "employeeId": filterable("eq in startswith", "ne le null"),
    "employeeType": filterable("", "eq ne ge le in startswith"),
    "employeeHireDate": filterable("", "eq ne ge le in"),
    "usageLocation": filterable("eq ge le in startswith", "ne"),
    "companyName": filterable("", "eq ne not ge le in startswith null"),
    "city": filterable("eq ge in startswith", "ne not null"),
    "state": filterable("eq ge le in startswith", "ne null"),
    "country": filterable("eq ge le in startswith", "ne not null"),
    "officeLocation": filterable("", "eq ne ge le in startswith null"),
    "mobilePhone": filterable("", "eq ne ge le in startswith null"),
    "postalCode": filterable("", "eq ne ge le in startswith null"),
    "streetAddress": filterable("", "eq ne ge le in startswith null"),
    "preferredLanguage": filterable("", "eq ne ge le in startswith null"),
    "passwordPolicies": filterable("", "eq ne null"),
    "businessPhones": filterable("eq", "not", collection=True),
    "assignedLicenses": filterable("eq", "not", collection=True),
    "createdDateTime": filterable("eq ge le", "ne not in"),
    "userType": filterable("eq in", "ne not null"),
    "onPremisesSyncEnabled": filterable("eq in", "ne ge le"),
}
# $orderby on users: displayName and userPrincipalName by default, the dates only in advanced
# queries (concepts/aad-advanced-queries.md, "Support for sorting").
ORDERABLE = {
    "displayName": False,
    "userPrincipalName": False,
    "createdDateTime": True,
    "deletedDateTime": True,
}
SELECTABLE = (
    frozenset(
        n.lower()
        for n in (
            *DEFAULT_SELECT,
            *WRITABLE,
            "createdDateTime",
            "assignedLicenses",
            "licenseAssignmentStates",
            "userType",
            "signInSessionsValidFromDateTime",
            "lastPasswordChangeDateTime",
            "deletedDateTime",
            "proxyAddresses",
            SIGN_IN,
            *SYNC_PROPERTIES,
        )
    ),
    "microsoft.graph.user",
)
# A user in a directoryObject collection (a group's members, a manager, direct reports): a
# $select name that is no user property is 400 naming directoryObject, as memberOf does.
AS_DIRECTORY_OBJECT = (SELECTABLE[0], "microsoft.graph.directoryObject")
# A user's relationships (resources/user.md, "Relationships"), those annotated
# `expandable: false`, and those the sandbox expands (sandbox/entra/expand.py).
NAVIGATIONS = navigations(
    "microsoft.graph.user",
    "agreementAcceptances activities appRoleAssignments calendar calendarGroups calendarView "
    "calendars contactFolders contacts createdObjects directReports drive drives events "
    "extensions inferenceClassification insights joinedGroups licenseDetails mailFolders "
    "manager memberOf messages oauth2PermissionGrants onenote outlook ownedDevices "
    "ownedObjects people photo photos planner registeredDevices todo",
    "calendar calendarGroups calendars contactFolders contacts events "
    "inferenceClassification mailFolders messages people photo photos",
    "manager directReports memberOf",
)
# What an expanded relationship holds for one user; the modules that own the relationships
# fill it in (manager.py, groups.py), so this one imports none of them.
EXPANSIONS: dict[str, Callable[[GraphRequest, User], Any]] = {}
# user.md / group.md: mailNickname takes "only characters in the ASCII character set 0 - 127
# except the following: @ () \\ [] " ; : <> , SPACE", 64 at most (groups.py uses it too).
MAIL_NICKNAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}$")
# Entra's username policy: A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @, no period just before
# it; "The total length must not exceed 113 characters", "up to 64 characters before the @"
# and "up to 48 characters after" it (https://learn.microsoft.com/entra/identity/
# authentication/concept-sspr-policy#userprincipalname-policies-that-apply-to-all-user-accounts).
_UPN = re.compile(
    r"^(?=.{1,113}$)(?=.{1,64}@)[A-Za-z0-9'._!#^~-]*[A-Za-z0-9'_!#^~-]"
    r"@(?P<domain>[A-Za-z0-9.-]{1,48})$"
)


def invalid_value(prop: str) -> GraphError:
    return bad_request(f"Invalid value specified for property '{prop}' of resource 'User'.")


def duplicate_upn() -> GraphError:
    return object_conflict("userPrincipalName")


# user-post-users.md: onPremisesImmutableId is "Required only when creating a new user
# account if you are using a federated domain for the user's userPrincipalName (UPN)
# property". Graph's answer is not published; these words are those reported for it
# (microsoftgraph/microsoft-graph-docs#8668), with the usual 400 Request_BadRequest.
FEDERATED_NEEDS_IMMUTABLE_ID = (
    "SourceAnchor is a required property for creation of a federated user."
)


def refuse_federated_without_immutable_id(tenant: EntraTenant, props: dict) -> None:
    domain = props["userPrincipalName"].rsplit("@", 1)[1]
    if tenant.is_federated_domain(domain) and not props.get("onPremisesImmutableId"):
        raise bad_request(FEDERATED_NEEDS_IMMUTABLE_ID)


def no_password() -> GraphError:
    # Graph's words when a create has no password (msgraph-sdk-powershell#3307).
    return bad_request("A password must be specified to create a new user.")


def user_url(req: GraphRequest, user: User) -> str:
    return f"{req.base_url}/users/{user.id}"


def view(user: User, query: dict[str, str]) -> dict[str, Any]:
    result = select(user.props, query, DEFAULT_SELECT, SELECTABLE)
    if result.get(SIGN_IN, 0) is None:
        del result[SIGN_IN]  # never signed in: Graph leaves the property out
    return result


def expansion(req: GraphRequest) -> str | None:
    return expanded(req.query, NAVIGATIONS, SELECTABLE[0], req.advanced_query())


def with_expansion(req: GraphRequest, user: User, name: str | None, body: dict) -> dict:
    if name is not None:
        body[name] = EXPANSIONS[name](req, user)
    return body


def find_user(req: GraphRequest, key: str) -> User:
    """A live user by id or UPN; 404 as Graph gives, also while a new user is replicating."""
    user = req.tenant.live_user(key)
    if user is None:
        raise not_found(key)
    if req.tenant.behaviour.is_replicating(user.created_mono):
        raise not_found(key)
    return user


# Entra's cloud password policy: "Characters allowed: A-Z a-z 0-9 @ # $ % ^ & * - _ ! + = [ ]
# { } | \ : ' , . ? / ` ~ " ( ) ; < > Blank space"; "Characters not allowed: Unicode
# characters" (entra-docs concept-sspr-policy.md).
PASSWORD_SYMBOLS = frozenset("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ")


def _check_password(profile: dict) -> None:
    password = profile.get("password")
    if not isinstance(password, str) or not password:
        raise invalid_value("passwordProfile")
    classes = sum(
        bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
    )
    allowed = all(c.isascii() and (c.isalnum() or c in PASSWORD_SYMBOLS) for c in password)
    if len(password) < 8 or len(password) > 256 or classes < 3 or not allowed:
        raise bad_request(
            "The specified password does not comply with password complexity requirements. "
            "Please provide a different password."
        )


def _check_upn(tenant: EntraTenant, upn: str, user_id: str | None) -> None:
    match = _UPN.match(upn)
    if not match:
        raise invalid_value("userPrincipalName")
    if not tenant.is_verified_domain(match["domain"]):
        raise bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one "
            "of the verified domain names in your organization."
        )
    existing = tenant.upn_index.get(upn.lower())
    if existing is not None and existing != user_id:
        raise duplicate_upn()


def validate_props(tenant: EntraTenant, data: dict, user_id: str | None) -> dict[str, Any]:
    """The writable properties of a create/update body, checked as the directory checks them."""
    props: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("@odata."):
            continue
        kind = WRITABLE.get(key)
        if key in READ_ONLY:
            raise bad_request(f"Property '{key}' is read-only and cannot be set.")
        if key == "proxyAddresses":
            # "Read-only in Microsoft Graph; you can update this property only through the
            # Microsoft 365 admin center" (user.md); an app that tries is answered 403
            # (msgraph-beta-sdk-java#951, with User.ReadWrite.All and Global Administrator).
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if kind is None:
            raise undeclared_directory_property(key)
        if value is not None and not isinstance(value, kind):
            raise invalid_value(key)
        if value == "" or (isinstance(value, list) and "" in value):
            # Graph takes no empty string for a user's string: null clears a property, ""
            # is 400 "Invalid value specified for property 'givenName' of resource 'User'."
            # (msgraph-sdk-dotnet#187 givenName/surname, msgraph-sdk-powershell#2087
            # officeLocation and #852 mobilePhone; msgraph-sdk-dotnet#1453: "The otherMails
            # should be between 1 and 256 characters"; null clears: microsoft-graph-docs#4299).
            raise invalid_value(key)
        if isinstance(value, str) and len(value) > MAX_LENGTH.get(key, len(value)):
            raise invalid_value(key)
        if isinstance(value, list) and not all(isinstance(item, str) for item in value):
            raise invalid_value(key)  # businessPhones and otherMails are String collections
        props[key] = value
    if props.get("userType") not in (None, "Member", "Guest"):
        raise invalid_value("userType")
    if "userPrincipalName" in props:
        _check_upn(tenant, props["userPrincipalName"] or "", user_id)
    if "mail" in props:
        # user.md: mail "cannot contain accent characters".
        if not (props["mail"] or "").isascii():
            raise invalid_value("mail")
        check_mail(tenant, props["mail"], user_id)
    if _too_many_or_too_long(props.get("otherMails") or []):
        raise invalid_value("otherMails")
    if not all(address.isascii() for address in props.get("otherMails") or []):
        # user.md, otherMails: "This property can't contain accent characters." (as mail;
        # microsoftgraph/microsoft-graph-docs#13477: the 400 for both, the sandbox took them).
        raise invalid_value("otherMails")
    if props.get("mailNickname") is not None and not MAIL_NICKNAME.match(props["mailNickname"]):
        raise invalid_value("mailNickname")
    if "displayName" in props and not (props["displayName"] or "").strip():
        raise invalid_value("displayName")
    _check_date_times(props)
    location = props.get("usageLocation")
    if location is not None and location not in ISO_3166_ALPHA_2:
        # "A two-letter country code (ISO standard 3166)" (user.md): UK, EU and the like,
        # two capitals that name no country, are refused like any invalid value.
        raise invalid_value("usageLocation")
    if len(props.get("businessPhones") or []) > 1:
        # "Although this is a string collection, only one number can be set for this
        # property" (user.md, businessPhones); Graph's text for a second one is not
        # published: the sandbox gives its invalid-value 400.
        raise invalid_value("businessPhones")
    if any(c in (props.get("onPremisesImmutableId") or "") for c in "$_"):
        # user.md: "The $ and _ characters can't be used when specifying this property."
        raise invalid_value("onPremisesImmutableId")
    policies = props.get("passwordPolicies")
    if policies is not None and not _known_policies(policies):
        raise invalid_value("passwordPolicies")
    if "passwordProfile" in props:
        _check_profile(props["passwordProfile"] or {})
        _check_password(props["passwordProfile"] or {})
    return props


def _too_many_or_too_long(addresses: list[str]) -> bool:
    """More values than otherMails holds, or one longer than its limit (both 250)."""
    too_long = any(len(address) > OTHER_MAILS_MOST for address in addresses)
    return len(addresses) > OTHER_MAILS_MOST or too_long


# user.md types employeeHireDate as DateTimeOffset: "ISO 8601 format and is always in UTC
# time. For example, midnight UTC on Jan 1, 2014 is 2014-01-01T00:00:00Z". OData reads the
# JSON string as an Edm.DateTimeOffset literal, whose offset is not optional, and refuses any
# other with "Cannot convert the literal '…' to the expected type 'Edm.DateTimeOffset'."
# (OData's text, odata.net#2113); the sandbox stored any string.
DATE_TIME_OFFSETS = ("employeeHireDate",)
_DATE_TIME_OFFSET = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$"
)


def _check_date_times(props: dict[str, Any]) -> None:
    for name in DATE_TIME_OFFSETS:
        value = props.get(name)
        if value is None:
            continue
        if _DATE_TIME_OFFSET.match(value):
            try:
                dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                continue
            except ValueError:
                pass  # well formed but no date (2026-02-30): refused as Graph refuses it
        raise bad_request(
            f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset'.",
            code="BadRequest",
        )


# passwordPolicies "is an enumeration": DisableStrongPassword, DisablePasswordExpiration, or
# "The two … together; for example: DisablePasswordExpiration, DisableStrongPassword"
# (user.md); "None" clears them (Microsoft 365 admin "Set an individual user's password to
# never expire": `Update-MgUser -PasswordPolicies None`). Anything else is refused (the text
# is not published: the sandbox gives its invalid-value 400).
PASSWORD_POLICIES = frozenset({"DisableStrongPassword", "DisablePasswordExpiration"})
# passwordProfile's properties (resources/passwordprofile.md): the password and two booleans.
PROFILE_FLAGS = ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa")


def _known_policies(value: str) -> bool:
    if value == "None":
        return True
    names = [name.strip() for name in value.split(",")]
    return len(set(names)) == len(names) and set(names) <= PASSWORD_POLICIES


def _check_profile(profile: dict) -> None:
    """A passwordProfile of passwordprofile.md's properties, its flags booleans (the sandbox
    read any value as a flag, "no" as true). Graph's text for another shape is not published."""
    if set(profile) - {"password", *PROFILE_FLAGS}:
        raise invalid_value("passwordProfile")
    flags = [profile.get(flag) for flag in PROFILE_FLAGS]
    if any(flag is not None and not isinstance(flag, bool) for flag in flags):
        raise invalid_value("passwordProfile")


@router.add("POST", "/users", USER_WRITE)
def create_user(req: GraphRequest) -> GraphResponse:
    data = req.json()
    for name in REQUIRED:
        if data.get(name) in (None, ""):
            raise no_password() if name == "passwordProfile" else invalid_value(name)
    if not (isinstance(data["passwordProfile"], dict) and data["passwordProfile"].get("password")):
        raise no_password()
    props = validate_props(req.tenant, data, None)
    refuse_federated_without_immutable_id(req.tenant, props)
    profile = props.pop("passwordProfile")
    now = now_iso()
    record = {
        "id": new_id(),
        **unset_properties(),
        **props,
        "proxyAddresses": with_mail([], props.get("mail")),
        "userType": props.get("userType") or "Member",
        "createdDateTime": now,
        "lastPasswordChangeDateTime": now,
        "signInSessionsValidFromDateTime": now,
        "assignedLicenses": [],
        "forceChangePasswordNextSignIn": bool(profile.get("forceChangePasswordNextSignIn", True)),
    }
    user = req.tenant.add_user(record, profile["password"])
    body = {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **view(user, {})}
    return GraphResponse(201, body, {"Location": user_url(req, user)})


def matching_users(req: GraphRequest) -> list[User]:
    users = req.tenant.live_users()
    predicate = req.filter(FILTERABLE, "User")
    if predicate is not None:
        users = [u for u in users if predicate(u.props)]
    return users


@router.add("GET", "/users", USER_READ, expands=True)
def list_users(req: GraphRequest) -> GraphResponse:
    cap = None
    if selects_sign_in(req.query):
        check_access(req)
        cap = SIGN_IN_PAGE
    check_select(req.query, SELECTABLE)
    name = expansion(req)
    if name is not None:
        cap = min(cap or EXPANDED_PAGE, EXPANDED_PAGE)
    props = [u.props for u in matching_users(req)]
    props = ordered(props, req.query, ORDERABLE, "User", req.advanced_query())
    users = [req.tenant.users[p["id"]] for p in props]
    url = f"{req.base_url}/users"
    page = paged(users, req.query, url, f"{req.base_url}/$metadata#users", cap=cap)
    page["value"] = [with_expansion(req, u, name, view(u, req.query)) for u in page["value"]]
    return GraphResponse(200, page)


@router.add("GET", "/users/$count", USER_READ)
def count_users(req: GraphRequest) -> GraphResponse:
    return count_response(req, matching_users(req))


@router.add("GET", "/users/{id}", USER_READ, expands=True)
def get_user(req: GraphRequest) -> GraphResponse:
    if selects_sign_in(req.query):
        check_access(req)
        check_key(req.params["id"])
    name = expansion(req)
    user = find_user(req, req.params["id"])
    body = {"@odata.context": f"{req.base_url}/$metadata#users/$entity", **view(user, req.query)}
    return GraphResponse(200, with_expansion(req, user, name, body))


@router.add("PATCH", "/users/{id}", USER_WRITE)
def update_user(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    data = req.json()
    check_user_update(req, user, data)  # a directory role for sensitive ones (roles.py)
    props = validate_props(req.tenant, data, user.id)
    # mail too: "Can't be updated to `null`" (microsoft-graph-docs-contrib
    # agentuser-update.md, the same PATCH /users/{id}; microsoft-graph-docs#18722: an error for
    # null or "" on an update, though a user created without mail has none). The text is not
    # published: the usual invalid-value 400. The sandbox cleared it.
    for name in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "mail"):
        if name in props and props[name] in (None, ""):
            raise invalid_value(name)
    if "usageLocation" in props and props["usageLocation"] is None and direct_of(user):
        # user.md, usageLocation: "Required for users that are assigned licenses due to
        # legal requirements ... Not nullable." Only a licence of the user's own needs it: a
        # group's members without one take the tenant's (licensing-admin-center.md). The
        # text is not published: the invalid-value 400. The sandbox cleared it.
        raise invalid_value("usageLocation")
    refuse_synced_user_update(user, props)
    profile = props.pop("passwordProfile", None)
    if profile is not None:
        user.password = profile["password"]
        user.props["lastPasswordChangeDateTime"] = now_iso()
        user.props["forceChangePasswordNextSignIn"] = bool(
            profile.get("forceChangePasswordNextSignIn", True)
        )
    changed = [n for n in props if n != "passwordProfile"]
    if profile is not None:
        changed.append("lastPasswordChangeDateTime")
    if "userPrincipalName" in props:
        req.tenant.rename_upn(user, props.pop("userPrincipalName"))
    if "mail" in props:
        user.props["proxyAddresses"] = with_mail(
            user.props.get("proxyAddresses") or [], props["mail"]
        )
        changed.append("proxyAddresses")
    user.props.update(props)
    req.tenant.touch(user, *changed)
    return GraphResponse(204)


@router.add("DELETE", "/users/{id}", USER_WRITE)
def delete_user(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    check_sensitive_action(req, user)
    req.tenant.soft_delete(user)
    return GraphResponse(204)


@router.add("POST", "/users/{id}/revokeSignInSessions", USER_WRITE)
def revoke_sessions(req: GraphRequest) -> GraphResponse:
    user = find_user(req, req.params["id"])
    user.props["signInSessionsValidFromDateTime"] = now_iso()
    req.tenant.touch(user, "signInSessionsValidFromDateTime")
    return GraphResponse(
        200, {"@odata.context": f"{req.base_url}/$metadata#Edm.Boolean", "value": True}
    )


# Deleted items ------------------------------------------------------------------------------


def deleted_view(user: User, query: dict[str, str]) -> dict[str, Any]:
    """A deleted user, as selected. Its callers refuse first a $select name that is no user
    property, as /users does (the sandbox answered it with null), naming the collection's
    type: microsoft.graph.user under the cast, directoryObject for
    `/directory/deletedItems/{id}`."""
    deleted = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(user.deleted_at or 0))
    props = {**user.props, "deletedDateTime": deleted, "@odata.type": "#microsoft.graph.user"}
    return select(props, query, (*DEFAULT_SELECT, "deletedDateTime"))


def _list_deleted_users(req: GraphRequest) -> GraphResponse:
    check_select(req.query, SELECTABLE)
    req.tenant.purge_expired()
    deleted = [u for u in req.tenant.users.values() if u.deleted_at is not None]
    predicate = req.filter(FILTERABLE, "User")
    if predicate is not None:
        deleted = [u for u in deleted if predicate(u.props)]
    items = [deleted_view(u, req.query) for u in deleted]
    url = f"{req.base_url}/directory/deletedItems/microsoft.graph.user"
    return GraphResponse(200, paged(items, req.query, url, f"{req.base_url}/$metadata#users"))


for _cast in ("microsoft.graph.user", "graph.user"):
    router.add("GET", f"/directory/deletedItems/{_cast}", USER_READ)(_list_deleted_users)


# /directory/deletedItems/{id} (get, restore, purge) is routed by deleted_items.py, which
# holds deleted groups too.


def get_deleted(req: GraphRequest, user: User) -> GraphResponse:
    check_select(req.query, AS_DIRECTORY_OBJECT)
    return GraphResponse(200, deleted_view(user, req.query))


def restore_deleted(req: GraphRequest, user: User) -> GraphResponse:
    check_sensitive_action(req, user)
    if user.props["userPrincipalName"].lower() in req.tenant.upn_index:
        raise duplicate_upn()
    for proxy in user.props.get("proxyAddresses") or []:
        check_mail(req.tenant, proxy.partition(":")[2], user.id)
    req.tenant.restore(user)
    return GraphResponse(200, {**view(user, {}), "@odata.type": "#microsoft.graph.user"})


def purge_deleted(req: GraphRequest, user: User) -> GraphResponse:
    req.tenant.hard_delete(user)
    return GraphResponse(204)
