"""Entra ID's manager relationship, and a leaver's mail and files as far as Graph reaches
them: automatic replies (mailboxSettings), an inbox rule that forwards to someone, and write
access to the OneDrive root. `EntraConnector` exposes each as a thin method; the functions
here take it for its SDK client and its error translation.

Failures are classified here, once: a user without an Exchange Online mailbox (404
MailboxNotEnabledForRESTAPI) is `MailboxUnavailableError`, one without a OneDrive (404 "User's
mysite not found.") `DriveUnavailableError`; both are NotFoundError, so nothing above the
connectors confuses them with a missing user by anything but their class.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_serialization_json.json_parse_node import JsonParseNode
from msgraph.generated.drives.item.items.item.invite.invite_post_request_body import (
    InvitePostRequestBody,
)
from msgraph.generated.models.automatic_replies_setting import AutomaticRepliesSetting
from msgraph.generated.models.automatic_replies_status import AutomaticRepliesStatus
from msgraph.generated.models.drive_recipient import DriveRecipient
from msgraph.generated.models.email_address import EmailAddress
from msgraph.generated.models.external_audience_scope import ExternalAudienceScope
from msgraph.generated.models.mailbox_settings import MailboxSettings
from msgraph.generated.models.message_rule import MessageRule
from msgraph.generated.models.message_rule_actions import MessageRuleActions
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.recipient import Recipient
from msgraph.generated.models.reference_update import ReferenceUpdate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.manager.manager_request_builder import ManagerRequestBuilder
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from provisioning.connectors.base import DirectoryUser
from provisioning.connectors.errors import ConnectorError, NotFoundError

MAILBOX_NOT_ENABLED = "MailboxNotEnabledForRESTAPI"
NO_MYSITE = "mysite not found"
CANDIDATES_SHOWN = 5


class MailboxUnavailableError(NotFoundError):
    """The user has no mailbox Graph can reach (no Exchange Online licence, an on-premises
    mailbox, or one disabled with its licence)."""


class DriveUnavailableError(NotFoundError):
    """The user has no OneDrive (no SharePoint Online licence, or never provisioned)."""


@dataclass(frozen=True)
class AutoReply:
    enabled: bool
    internal: str = ""
    external: str = ""


@dataclass(frozen=True)
class InboxRule:
    id: str
    name: str
    forwards_to: tuple[str, ...]  # lower-case addresses
    enabled: bool = True


@dataclass(frozen=True)
class DriveShare:
    user_id: str
    email: str  # lower-case
    roles: tuple[str, ...]


@asynccontextmanager
async def _unavailable_as(user_id: str):
    """A 404 that says the mailbox or the drive is missing, not the user, as its own class."""
    try:
        yield
    except ODataError as exc:
        error = exc.error
        code = (error.code if error else "") or ""
        message = (error.message if error else "") or str(exc)
        missing = _missing(exc.response_status_code or 0, code, message)
        if missing is not None:
            raise missing from None
        raise


def _missing(status: int, code: str, message: str) -> NotFoundError | None:
    if status == 404 and code == MAILBOX_NOT_ENABLED:
        return MailboxUnavailableError(message, status=404)
    if status == 404 and NO_MYSITE in message:
        return DriveUnavailableError(message, status=404)
    return None


def unavailable(answer: dict | None, error: ConnectorError) -> ConnectorError:
    """A `$batch` sub-response's error (`error` as the connector classified it) as the same
    request sent alone raises it here: a missing mailbox or drive is its own class."""
    body = (answer or {}).get("body")
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict) or error.status != 404:
        return error
    return _missing(404, str(detail.get("code") or ""), str(detail.get("message") or "")) or error


# -- the manager ----------------------------------------------------------------------------


async def manager_of(connector, user_id: str, select: list[str]) -> User | None:
    """The user's manager, None when they have none (Graph's 404 on /manager)."""
    query = ManagerRequestBuilder.ManagerRequestBuilderGetQueryParameters(select=select)
    config = RequestConfiguration(query_parameters=query)
    try:
        async with connector._errors():
            found = await connector._graph().users.by_user_id(user_id).manager.get(config)
    except NotFoundError:
        # Either no manager or no user: which one, the user's own read tells.
        await connector.get_user(user_id)
        return None
    return found if isinstance(found, User) else None


async def set_manager(connector, user_id: str, manager_id: str) -> None:
    body = ReferenceUpdate(odata_id=f"{connector.graph_url}/v1.0/users/{manager_id}")
    async with connector._errors(user_id):
        await connector._graph().users.by_user_id(user_id).manager.ref.put(body)


async def direct_reports(connector, user_id: str) -> list[User]:
    builder = connector._graph().users.by_user_id(user_id).direct_reports
    reports: list[User] = []
    async with connector._errors(user_id):
        page = await builder.get()
        while page is not None:
            reports += [u for u in page.value or [] if isinstance(u, User)]
            link = page.odata_next_link
            page = await builder.with_url(link).get() if link else None
    return reports


async def people_named(connector, name: str, select: list[str]) -> list[User]:
    """Those whose display name or mail equals `name` (a few, enough to name candidates)."""
    quoted = name.replace("'", "''")
    query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
        filter=f"displayName eq '{quoted}' or mail eq '{quoted}'",
        select=select,
        top=CANDIDATES_SHOWN + 1,
    )
    async with connector._errors():
        page = await connector._graph().users.get(RequestConfiguration(query_parameters=query))
    return list((page.value if page else None) or [])


async def user_type(connector, user_id: str) -> str | None:
    """The account's userType as Graph gives it ("Member", or "Guest" for someone invited
    from outside: user resource), "" when it has none; None when there is no such account."""
    query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
        select=["id", "userType"]
    )
    try:
        async with connector._errors(user_id):
            found = (
                await connector._graph()
                .users.by_user_id(user_id)
                .get(RequestConfiguration(query_parameters=query))
            )
    except NotFoundError:
        return None
    return (found.user_type or "") if found is not None else None


# -- automatic replies ----------------------------------------------------------------------


async def auto_reply(connector, user_id: str) -> AutoReply:
    async with connector._errors(user_id), _unavailable_as(user_id):
        settings = await connector._graph().users.by_user_id(user_id).mailbox_settings.get()
    return auto_reply_from(settings)


def auto_reply_from(settings: MailboxSettings | None) -> AutoReply:
    reply = settings.automatic_replies_setting if settings else None
    if reply is None:
        return AutoReply(False)
    return AutoReply(
        enabled=reply.status == AutomaticRepliesStatus.AlwaysEnabled,
        internal=reply.internal_reply_message or "",
        external=reply.external_reply_message or "",
    )


def auto_reply_of(body: dict) -> AutoReply:
    """`auto_reply_from` of mailboxSettings' JSON, read as the SDK's model reads it (a value
    of the wrong type is None; the status as kiota's enum parse matches it) without building
    the model (tests/provisioning/test_entra_raw_reads.py holds the two equal)."""
    reply = body.get("automaticRepliesSetting") if isinstance(body, dict) else None
    if not isinstance(reply, dict):
        return AutoReply(False)
    status = reply.get("status")
    return AutoReply(
        enabled=status is not None and str(status) in _ALWAYS_ENABLED,
        internal=_text(reply.get("internalReplyMessage")) or "",
        external=_text(reply.get("externalReplyMessage")) or "",
    )


# What kiota's enum parse reads as AutomaticRepliesStatus.AlwaysEnabled (its first letter
# upper-cased, then the member's name).
_ALWAYS_ENABLED = ("alwaysEnabled", "AlwaysEnabled")


async def set_auto_reply(connector, user_id: str, message: str) -> None:
    """Replies on, with `message`, to everyone inside and outside, until turned off."""
    body = MailboxSettings(
        automatic_replies_setting=AutomaticRepliesSetting(
            status=AutomaticRepliesStatus.AlwaysEnabled,
            external_audience=ExternalAudienceScope.All,
            internal_reply_message=message,
            external_reply_message=message,
        )
    )
    async with connector._errors(user_id), _unavailable_as(user_id):
        await connector._graph().users.by_user_id(user_id).mailbox_settings.patch(body)


# -- inbox rules ----------------------------------------------------------------------------


def _rules(connector, user_id: str):
    return (
        connector._graph()
        .users.by_user_id(user_id)
        .mail_folders.by_mail_folder_id("inbox")
        .message_rules
    )


async def inbox_rules(connector, user_id: str) -> list[InboxRule]:
    async with connector._errors(user_id), _unavailable_as(user_id):
        page = await _rules(connector, user_id).get()
    return rules_from((page.value if page else None) or [])


def rules_from(rules: list[MessageRule]) -> list[InboxRule]:
    found = []
    for rule in rules:
        actions = rule.actions
        forwards = [
            (r.email_address.address or "").casefold()
            for r in ((actions.forward_to if actions else None) or [])
            if r.email_address
        ]
        found.append(
            InboxRule(str(rule.id), rule.display_name or "", tuple(forwards), bool(rule.is_enabled))
        )
    return found


def rules_of(values: list) -> list[InboxRule]:
    """`rules_from` of messageRules' JSON (a page's `value`), read as the SDK's models read
    it, without building them."""
    found = []
    for rule in values:
        rule = rule if isinstance(rule, dict) else {}
        actions = rule.get("actions")
        recipients = actions.get("forwardTo") if isinstance(actions, dict) else None
        forwards = []
        for recipient in recipients if isinstance(recipients, list) else ():
            address = recipient.get("emailAddress") if isinstance(recipient, dict) else None
            if address is None:
                continue  # no emailAddress: the model's is None, and skipped
            text = address.get("address") if isinstance(address, dict) else None
            forwards.append((_text(text) or "").casefold())
        found.append(
            InboxRule(
                str(_text(rule.get("id"))),
                _text(rule.get("displayName")) or "",
                tuple(forwards),
                rule.get("isEnabled") is True,
            )
        )
    return found


async def add_forward_rule(connector, user_id: str, name: str, to: DirectoryUser) -> None:
    address = to.attributes.get("email") or to.username
    rule = MessageRule(
        display_name=name,
        sequence=1,
        is_enabled=True,
        actions=MessageRuleActions(
            forward_to=[
                Recipient(
                    email_address=EmailAddress(
                        name=to.attributes.get("display_name") or address, address=address
                    )
                )
            ]
        ),
    )
    async with connector._errors(user_id), _unavailable_as(user_id):
        await _rules(connector, user_id).post(rule)


# -- OneDrive -------------------------------------------------------------------------------


async def _drive_root(connector, user_id: str):
    async with connector._errors(user_id), _unavailable_as(user_id):
        drive = await connector._graph().users.by_user_id(user_id).drive.get()
    return connector._graph().drives.by_drive_id(str(drive.id)).items.by_drive_item_id("root")


async def drive_shares(connector, user_id: str) -> list[DriveShare]:
    """Who holds what on the user's OneDrive root (the owner's own entry included)."""
    root = await _drive_root(connector, user_id)
    async with connector._errors(user_id):
        page = await root.permissions.get()
    return shares_from((page.value if page else None) or [])


def shares_from(permissions: list) -> list[DriveShare]:
    """Who holds what, from a drive item's permissions (msgraph Permission models)."""
    shares = []
    for permission in permissions:
        granted = permission.granted_to_v2
        user = granted.user if granted else None
        if user is None:
            continue
        email = (getattr(user, "additional_data", {}) or {}).get("email") or ""
        shares.append(
            DriveShare(str(user.id), str(email).casefold(), tuple(permission.roles or ()))
        )
    return shares


def shares_of(values: list) -> list[DriveShare]:
    """`shares_from` of permissions' JSON (a page's `value`), read as the SDK's models read
    it, without building them: the user's `email` is additional data of its Identity, except
    on an emailIdentity, whose own field it is (so not read, as the model does not)."""
    shares = []
    for permission in values:
        permission = permission if isinstance(permission, dict) else {}
        granted = permission.get("grantedToV2")
        user = granted.get("user") if isinstance(granted, dict) else None
        if user is None:
            continue
        user = user if isinstance(user, dict) else {}
        kind = user.get("@odata.type")
        email = None
        if not (isinstance(kind, str) and kind.casefold() == _EMAIL_IDENTITY):
            email = _NODE.try_get_anything(user.get("email"))
        roles = permission.get("roles")
        if roles is not None:
            roles = JsonParseNode(roles).get_collection_of_primitive_values(str)
        shares.append(
            DriveShare(str(_text(user.get("id"))), str(email or "").casefold(), tuple(roles or ()))
        )
    return shares


_EMAIL_IDENTITY = "#microsoft.graph.emailidentity"
_NODE = JsonParseNode(None)  # its try_get_anything reads additional data as the models do


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


async def share_drive(connector, user_id: str, to: DirectoryUser) -> None:
    """Write access to the whole OneDrive for `to`, without an invitation e-mail."""
    root = await _drive_root(connector, user_id)
    body = InvitePostRequestBody(
        recipients=[DriveRecipient(email=to.attributes.get("email") or to.username)],
        roles=["write"],
        require_sign_in=True,
        send_invitation=False,
    )
    async with connector._errors(user_id):
        await root.invite.post(body)
