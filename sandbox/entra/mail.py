"""A user's Exchange Online mailbox as far as Graph reaches it: mailboxSettings (automatic
replies) and the inbox's message rules.

Only a user whose licences give an enabled Exchange Online plan (EXCHANGE_S_*, per the SKU's
service plans in service_plans.py) has a mailbox; for anyone else Graph answers
404 MailboxNotEnabledForRESTAPI ("The mailbox is either inactive, soft-deleted, or is hosted
on-premise."). A mailbox outlives its licence by Exchange's 30-day grace period (it stays
active and receives mail; then it is removed, or made inactive under a hold): here the grace
starts when a licensed mailbox is first seen without its plan.

Permissions (application): mailboxSettings GET MailboxSettings.Read, PATCH
MailboxSettings.ReadWrite (user-get-mailboxsettings.md, user-update-mailboxsettings.md);
messageRules GET MailboxSettings.Read, POST and DELETE MailboxSettings.ReadWrite
(mailfolder-list-messagerules.md, mailfolder-post-messagerules.md).
"""

from __future__ import annotations

import time
from typing import Any

from sandbox.entra.errors import GraphError, bad_request, not_found, undeclared_property
from sandbox.entra.model import EntraTenant, User, new_id
from sandbox.entra.router import GraphRequest, GraphResponse, router
from sandbox.entra.service_plans import plans_of
from sandbox.entra.users import find_user

SETTINGS_READ = ("MailboxSettings.Read", "MailboxSettings.ReadWrite")
SETTINGS_WRITE = ("MailboxSettings.ReadWrite",)
# User plans that give a mailbox (EXCHANGE_S_FOUNDATION applies to the company: no mailbox).
EXCHANGE_PLANS = ("EXCHANGE_S_",)
LICENCE_GRACE_S = 30 * 86400
REPLY_STATUSES = ("disabled", "alwaysEnabled", "scheduled")
AUDIENCES = ("none", "contactsOnly", "all")
REPLY_FIELDS = {
    "status": str,
    "externalAudience": str,
    "internalReplyMessage": str,
    "externalReplyMessage": str,
    "scheduledStartDateTime": dict,
    "scheduledEndDateTime": dict,
}
SETTINGS_FIELDS = (
    "archiveFolder",
    "automaticRepliesSetting",
    "dateFormat",
    "delegateMeetingMessageDeliveryOptions",
    "language",
    "timeFormat",
    "timeZone",
    "workingHours",
)
RULE_FIELDS = ("displayName", "sequence", "isEnabled", "conditions", "actions", "exceptions")
INBOX = ("inbox", "Inbox")


def holds_plan(tenant: EntraTenant, user: User, prefixes: tuple[str, ...]) -> bool:
    """Whether one of the user's licences (direct or inherited) gives an enabled user plan
    whose name starts with one of `prefixes` (a plan in disabledPlans gives nothing)."""
    for assigned in user.props.get("assignedLicenses") or []:
        sku = tenant.skus.get(assigned.get("skuId"))
        if sku is None:
            continue
        disabled = set(assigned.get("disabledPlans") or [])
        for plan in plans_of(sku.sku_part_number):
            usable = plan.applies_to == "User" and plan.id not in disabled
            if usable and plan.name.startswith(prefixes):
                return True
    return False


def mailbox_user(req: GraphRequest) -> User:
    user = find_user(req, req.params["id"])
    if holds_plan(req.tenant, user, EXCHANGE_PLANS):
        user.mailbox["provisioned"] = True
        user.mailbox.pop("unlicensed_since", None)
        return user
    if user.mailbox.get("provisioned"):
        since = user.mailbox.setdefault("unlicensed_since", time.time())
        if time.time() - since < LICENCE_GRACE_S:
            return user
    raise GraphError(
        404,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )


def default_settings() -> dict[str, Any]:
    return {
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": None,
            "scheduledEndDateTime": None,
        },
        "timeZone": "UTC",
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
    }


def settings_of(user: User) -> dict[str, Any]:
    return user.mailbox.setdefault("settings", default_settings())


def _invalid(name: str) -> GraphError:
    return bad_request(
        f"The request is invalid: property '{name}' has an invalid value.",
        code="ErrorInvalidRequest",
    )


def _checked_reply(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _invalid("automaticRepliesSetting")
    for key, item in value.items():
        kind = REPLY_FIELDS.get(key)
        if kind is None and not key.startswith("@odata."):
            raise undeclared_property(key, "microsoft.graph.automaticRepliesSetting")
        if kind is not None and item is not None and not isinstance(item, kind):
            raise _invalid(key)
    if value.get("status", "disabled") not in REPLY_STATUSES:
        raise _invalid("status")
    if value.get("externalAudience", "all") not in AUDIENCES:
        raise _invalid("externalAudience")
    if value.get("status") == "scheduled" and not (
        value.get("scheduledStartDateTime") and value.get("scheduledEndDateTime")
    ):
        raise _invalid("scheduledEndDateTime")
    return {k: v for k, v in value.items() if not k.startswith("@odata.")}


@router.add("GET", "/users/{id}/mailboxSettings", SETTINGS_READ)
def get_settings(req: GraphRequest) -> GraphResponse:
    user = mailbox_user(req)
    context = f"{req.base_url}/$metadata#users('{user.id}')/mailboxSettings"
    return GraphResponse(200, {"@odata.context": context, **settings_of(user)})


@router.add("PATCH", "/users/{id}/mailboxSettings", SETTINGS_WRITE)
def update_settings(req: GraphRequest) -> GraphResponse:
    user = mailbox_user(req)
    body = req.json()
    changed: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        if key not in SETTINGS_FIELDS:
            raise undeclared_property(key, "microsoft.graph.mailboxSettings")
        if key == "automaticRepliesSetting":
            current = settings_of(user)["automaticRepliesSetting"]
            current.update(_checked_reply(value))
            changed[key] = dict(current)
        else:
            settings_of(user)[key] = value
            changed[key] = value
    context = f"{req.base_url}/$metadata#users('{user.id}')/mailboxSettings"
    return GraphResponse(200, {"@odata.context": context, **changed})


def rules_of(user: User) -> list[dict[str, Any]]:
    return user.mailbox.setdefault("rules", [])


def _inbox(req: GraphRequest) -> None:
    if req.params["folder"] not in INBOX:
        # Rules live on the Inbox only (the documented paths name mailFolders/inbox).
        raise not_found(req.params["folder"])


# messageruleactions.md (and msgraph's MessageRuleActions): the actions and their types; the
# three recipient collections are lists of {"emailAddress": {"address", "name"}}. The sandbox
# checked only the recipients' addresses, so a misspelt action made a rule that did nothing,
# "yes" was stored for a Boolean, and a recipient that was no object was a 500.
RULE_ACTIONS: dict[str, Any] = {
    "assignCategories": [str],
    "copyToFolder": str,
    "delete": bool,
    "forwardAsAttachmentTo": "recipients",
    "forwardTo": "recipients",
    "markAsRead": bool,
    "markImportance": ("low", "normal", "high"),
    "moveToFolder": str,
    "permanentDelete": bool,
    "redirectTo": "recipients",
    "stopProcessingRules": bool,
}


def _check_actions(actions: dict) -> None:
    for key, value in actions.items():
        kind = RULE_ACTIONS.get(key)
        if kind is None and not key.startswith("@odata."):
            raise undeclared_property(key, "microsoft.graph.messageRuleActions")
        if value is None or kind is None:
            continue
        if kind == "recipients":
            if not isinstance(value, list) or not all(_is_recipient(r) for r in value):
                raise _invalid(f"actions.{key}")
        elif isinstance(kind, tuple):
            if value not in kind:
                raise _invalid(f"actions.{key}")
        elif isinstance(kind, list):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _invalid(f"actions.{key}")
        elif not isinstance(value, kind):
            raise _invalid(f"actions.{key}")


def _is_recipient(recipient: object) -> bool:
    email = recipient.get("emailAddress") if isinstance(recipient, dict) else None
    address = email.get("address") if isinstance(email, dict) else None
    return isinstance(address, str) and "@" in address


def _is_int32(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31


def _checked_rule(body: dict) -> dict[str, Any]:
    unknown = [k for k in body if k not in RULE_FIELDS and not k.startswith("@odata.")]
    if unknown:
        raise undeclared_property(unknown[0], "microsoft.graph.messageRule")
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip():
        raise _invalid("displayName")
    actions = body.get("actions")
    if not isinstance(actions, dict) or not actions:
        raise _invalid("actions")
    # mailfolder-post-messagerules.md: "sequence | Int32 | ... Required." and isEnabled a
    # Boolean (the sandbox numbered a rule sent without one, and stored "2" or "yes" as
    # given). Graph's text for these is not published: the sandbox's says which property.
    sequence = body.get("sequence")
    if not _is_int32(sequence):
        raise _invalid("sequence")
    if "isEnabled" in body and not isinstance(body["isEnabled"], bool):
        raise _invalid("isEnabled")
    for name in ("conditions", "exceptions"):  # messageRulePredicates objects
        if body.get(name) is not None and not isinstance(body[name], dict):
            raise _invalid(name)
    _check_actions(actions)
    return {k: v for k, v in body.items() if not k.startswith("@odata.")}


@router.add("GET", "/users/{id}/mailFolders/{folder}/messageRules", SETTINGS_READ)
def list_rules(req: GraphRequest) -> GraphResponse:
    user = mailbox_user(req)
    _inbox(req)
    context = f"{req.base_url}/$metadata#users('{user.id}')/mailFolders('inbox')/messageRules"
    return GraphResponse(200, {"@odata.context": context, "value": list(rules_of(user))})


@router.add("POST", "/users/{id}/mailFolders/{folder}/messageRules", SETTINGS_WRITE)
def create_rule(req: GraphRequest) -> GraphResponse:
    user = mailbox_user(req)
    _inbox(req)
    data = _checked_rule(req.json())
    rules = rules_of(user)
    rule = {
        "id": new_id().replace("-", "")[:24],
        "sequence": data["sequence"],
        "isEnabled": data.get("isEnabled", True),
        "hasError": False,
        "isReadOnly": False,
        "conditions": data.get("conditions") or {},
        "exceptions": data.get("exceptions"),
        **{k: data[k] for k in ("displayName", "actions")},
    }
    rules.append(rule)
    context = f"{req.base_url}/$metadata#users('{user.id}')/mailFolders('inbox')/messageRules"
    return GraphResponse(201, {"@odata.context": f"{context}/$entity", **rule})


@router.add("DELETE", "/users/{id}/mailFolders/{folder}/messageRules/{rule}", SETTINGS_WRITE)
def delete_rule(req: GraphRequest) -> GraphResponse:
    user = mailbox_user(req)
    _inbox(req)
    rules = rules_of(user)
    found = next((r for r in rules if r["id"] == req.params["rule"]), None)
    if found is None:
        raise GraphError(
            404, "ErrorItemNotFound", "The specified object was not found in the store."
        )
    rules.remove(found)
    return GraphResponse(204)
