"""The manager relationship, a mailbox's automatic replies and inbox rules, and sharing a
OneDrive, through the real msgraph-sdk against the Entra sandbox: each behaviour as strict as
Graph (404 for no manager, MailboxNotEnabledForRESTAPI without Exchange, mysite not found
without SharePoint, app permissions per route, new guests refused to app-only invites)."""

from __future__ import annotations

import uuid

import pytest
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

from tests.sandbox.entra_support import EntraDir, run_sdk, tenant_body
from tests.sandbox.server import SandboxServer


def people(domain: str) -> list[dict]:
    """A boss, a report with Exchange and SharePoint (SPE_E3), one with neither (EMS only)."""
    person = {"usageLocation": "GB"}
    return [
        {"userPrincipalName": f"boss@{domain}", "displayName": "Bo Boss", "licenses": ["SPE_E3"]}
        | person
        | {"mail": f"boss@{domain}"},
        {"userPrincipalName": f"ann@{domain}", "displayName": "Ann Report", "licenses": ["SPE_E3"]}
        | person
        | {"mail": f"ann@{domain}"},
        {"userPrincipalName": f"ned@{domain}", "displayName": "Ned NoMail", "licenses": ["EMS"]}
        | person,
    ]


def make_org(server: SandboxServer, permissions: list[str] | None = None) -> EntraDir:
    """A directory of `people` on its own domain; the app holds `permissions` when given."""
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"t{tenant_id[:8]}.example"
    body = tenant_body(tenant_id, domain, client_id, users=people(domain))
    if permissions is not None:
        body["apps"][0]["permissions"] = permissions
    with server.control() as control:
        response = control.post("/_sandbox/entra/tenants", json=body)
        assert response.status_code == 201, response.text
    return EntraDir(server, tenant_id, domain, client_id, "right-secret", response.json())


@pytest.fixture
def org(sandbox_server: SandboxServer) -> EntraDir:
    return make_org(sandbox_server)


def ids(d: EntraDir) -> dict[str, str]:
    with d.graph() as graph:
        users = graph.get("/users", params={"$select": "id,userPrincipalName"}).json()["value"]
    return {u["userPrincipalName"].split("@")[0]: u["id"] for u in users}


def ref(d: EntraDir, user_id: str) -> ReferenceUpdate:
    return ReferenceUpdate(odata_id=f"{d.server.url}/v1.0/users/{user_id}")


def odata_error(work) -> ODataError:
    with pytest.raises(ODataError) as caught:
        work()
    return caught.value


# -- manager --------------------------------------------------------------------------------


def test_manager_set_read_back_reports_and_removed(org: EntraDir) -> None:
    who = ids(org)

    async def work(client):
        ann = client.users.by_user_id(who["ann"])
        await ann.manager.ref.put(ref(org, who["boss"]))
        manager = await ann.manager.get()
        reports = await client.users.by_user_id(who["boss"]).direct_reports.get()
        await ann.manager.ref.delete()
        return manager, reports

    manager, reports = run_sdk(org, work)
    assert manager.id == who["boss"]
    assert manager.odata_type == "#microsoft.graph.user"
    assert [r.id for r in reports.value] == [who["ann"]]
    error = odata_error(
        lambda: run_sdk(org, lambda c: c.users.by_user_id(who["ann"]).manager.get())
    )
    assert error.response_status_code == 404
    assert error.error.code == "Request_ResourceNotFound"


def test_manager_must_exist_and_reference_must_be_a_user_url(org: EntraDir) -> None:
    who = ids(org)
    missing = "00000000-0000-0000-0000-0000000000aa"
    error = odata_error(
        lambda: run_sdk(
            org, lambda c: c.users.by_user_id(who["ann"]).manager.ref.put(ref(org, missing))
        )
    )
    assert error.response_status_code == 404
    with org.graph() as graph:
        bad = graph.put(f"/users/{who['ann']}/manager/$ref", json={"@odata.id": "boss"})
    assert bad.status_code == 400


def test_manager_needs_user_write(sandbox_server: SandboxServer) -> None:
    d = make_org(sandbox_server, ["User.Read.All"])
    who = ids(d)
    error = odata_error(
        lambda: run_sdk(
            d, lambda c: c.users.by_user_id(who["ann"]).manager.ref.put(ref(d, who["boss"]))
        )
    )
    assert error.response_status_code == 403
    assert error.error.code == "Authorization_RequestDenied"
    with d.graph() as graph:  # reading needs only User.Read.All
        assert graph.get(f"/users/{who['boss']}/directReports").status_code == 200
        assert graph.get(f"/users/{who['ann']}/mailboxSettings").status_code == 403


# -- automatic replies and inbox rules --------------------------------------------------------


def test_automatic_replies_written_and_read_back(org: EntraDir) -> None:
    who = ids(org)
    message = "Ann has left; please write to Bo Boss."

    async def work(client):
        settings = client.users.by_user_id(who["ann"]).mailbox_settings
        before = await settings.get()
        await settings.patch(
            MailboxSettings(
                automatic_replies_setting=AutomaticRepliesSetting(
                    status=AutomaticRepliesStatus.AlwaysEnabled,
                    external_audience=ExternalAudienceScope.All,
                    internal_reply_message=message,
                    external_reply_message=message,
                )
            )
        )
        return before, await settings.get()

    before, after = run_sdk(org, work)
    assert before.automatic_replies_setting.status == AutomaticRepliesStatus.Disabled
    reply = after.automatic_replies_setting
    assert reply.status == AutomaticRepliesStatus.AlwaysEnabled
    assert reply.internal_reply_message == reply.external_reply_message == message


def test_a_bad_reply_status_and_a_scheduled_reply_without_dates_are_refused(org: EntraDir) -> None:
    who = ids(org)
    with org.graph() as graph:
        url = f"/users/{who['ann']}/mailboxSettings"
        bad = graph.patch(url, json={"automaticRepliesSetting": {"status": "sometimes"}})
        unscheduled = graph.patch(url, json={"automaticRepliesSetting": {"status": "scheduled"}})
        unknown = graph.patch(url, json={"outOfOffice": True})
    assert bad.status_code == unscheduled.status_code == unknown.status_code == 400


def test_no_exchange_licence_no_mailbox(org: EntraDir) -> None:
    who = ids(org)
    error = odata_error(
        lambda: run_sdk(org, lambda c: c.users.by_user_id(who["ned"]).mailbox_settings.get())
    )
    assert error.response_status_code == 404
    assert error.error.code == "MailboxNotEnabledForRESTAPI"
    assert "inactive, soft-deleted, or is hosted on-premise" in error.error.message
    with org.graph() as graph:
        rules = graph.get(f"/users/{who['ned']}/mailFolders/inbox/messageRules")
    assert rules.status_code == 404
    assert rules.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"


def test_the_mailbox_outlives_its_licence_by_the_grace_period(org: EntraDir) -> None:
    """Exchange keeps an unlicensed mailbox active for 30 days: the reply set before the
    licence went still reads back."""
    who = ids(org)
    e3 = next(s["skuId"] for s in org.state()["subscribedSkus"] if s["skuPartNumber"] == "SPE_E3")
    with org.graph() as graph:
        url = f"/users/{who['ann']}/mailboxSettings"
        on = {"automaticRepliesSetting": {"status": "alwaysEnabled", "internalReplyMessage": "x"}}
        assert graph.patch(url, json=on).status_code == 200
        removed = graph.post(
            f"/users/{who['ann']}/assignLicense",
            json={"addLicenses": [], "removeLicenses": [e3]},
        )
        assert removed.status_code == 200, removed.text
        kept = graph.get(url)
    assert kept.status_code == 200
    assert kept.json()["automaticRepliesSetting"]["status"] == "alwaysEnabled"


def test_forwarding_rule_created_and_listed(org: EntraDir) -> None:
    who = ids(org)

    async def work(client):
        rules = (
            client.users.by_user_id(who["ann"])
            .mail_folders.by_mail_folder_id("inbox")
            .message_rules
        )
        forward = MessageRuleActions(
            forward_to=[
                Recipient(email_address=EmailAddress(name="Bo Boss", address=f"boss@{org.domain}"))
            ],
            stop_processing_rules=True,
        )
        created = await rules.post(
            MessageRule(display_name="Leaver: forward to manager", sequence=1, actions=forward)
        )
        return created, await rules.get()

    created, listed = run_sdk(org, work)
    assert created.id and created.is_enabled and not created.has_error
    [rule] = listed.value
    assert rule.display_name == "Leaver: forward to manager"
    assert rule.actions.forward_to[0].email_address.address == f"boss@{org.domain}"


def test_a_rule_needs_a_name_and_actions(org: EntraDir) -> None:
    who = ids(org)
    url = f"/users/{who['ann']}/mailFolders/inbox/messageRules"
    with org.graph() as graph:
        nameless = graph.post(url, json={"actions": {"delete": True}})
        idle = graph.post(url, json={"displayName": "x"})
    assert nameless.status_code == idle.status_code == 400


def test_a_rule_needs_a_sequence_and_values_of_their_types(org: EntraDir) -> None:
    """mailfolder-post-messagerules.md: `sequence` (Int32) is Required, as `displayName` and
    `actions` are; `isEnabled` is a Boolean, `conditions` and `exceptions` messageRulePredicates
    objects. The sandbox numbered a rule without a sequence and stored "2", "yes" and a
    string of conditions as given."""
    who = ids(org)
    url = f"/users/{who['ann']}/mailFolders/inbox/messageRules"
    rule = {"displayName": "Forward", "sequence": 1, "actions": {"delete": True}}
    with org.graph() as graph:
        refused = [
            graph.post(url, json={k: v for k, v in rule.items() if k != "sequence"}),
            graph.post(url, json=rule | {"sequence": None}),
            graph.post(url, json=rule | {"sequence": "2"}),
            graph.post(url, json=rule | {"sequence": 2.5}),
            graph.post(url, json=rule | {"sequence": True}),
            graph.post(url, json=rule | {"sequence": 2**31}),
            graph.post(url, json=rule | {"isEnabled": "yes"}),
            graph.post(url, json=rule | {"conditions": "from the boss"}),
            graph.post(url, json=rule | {"exceptions": ["x"]}),
        ]
        listed = graph.get(url).json()["value"]
        taken = graph.post(url, json=rule | {"sequence": 2, "isEnabled": False})
    for answer in refused:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["code"] == "ErrorInvalidRequest"
    assert listed == []
    assert taken.status_code == 201, taken.text
    assert (taken.json()["sequence"], taken.json()["isEnabled"]) == (2, False)


@pytest.mark.parametrize(
    "actions",
    [
        {"forwardToo": [{"emailAddress": {"address": "x@y.example"}}]},  # misspelt
        {"forwardTo": {"emailAddress": {"address": "x@y.example"}}},  # no collection
        {"forwardTo": ["x@y.example"]},  # no recipient
        {"redirectTo": [{"emailAddress": "x@y.example"}]},  # no emailAddress object
        {"delete": "yes"},
        {"markImportance": "urgent"},
        {"assignCategories": "Red"},
        {"moveToFolder": 5},
    ],
)
def test_rule_actions_of_messageruleactions_shape_only(org: EntraDir, actions: dict) -> None:
    """messageruleactions.md (msgraph's MessageRuleActions): its eleven properties, each of its
    type (`markImportance` low, normal or high). Anything else is 400 and no rule is made;
    the sandbox made a rule whose misspelt action did nothing, stored "yes" for a Boolean,
    and answered 500 to a forwardTo that was no collection."""
    who = ids(org)
    url = f"/users/{who['ann']}/mailFolders/inbox/messageRules"
    with org.graph() as graph:
        refused = graph.post(url, json={"displayName": "x", "sequence": 1, "actions": actions})
        listed = graph.get(url).json()["value"]
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] in ("RequestBodyRead", "ErrorInvalidRequest")
    assert listed == []


def test_every_rule_action_messageruleactions_names_is_taken(org: EntraDir) -> None:
    who = ids(org)
    boss = [{"emailAddress": {"name": "Bo", "address": f"boss@{org.domain}"}}]
    actions = {
        "assignCategories": ["Red"],
        "copyToFolder": "AAMk",
        "delete": False,
        "forwardAsAttachmentTo": boss,
        "forwardTo": boss,
        "markAsRead": True,
        "markImportance": "high",
        "moveToFolder": "AAMk",
        "permanentDelete": False,
        "redirectTo": boss,
        "stopProcessingRules": True,
    }
    url = f"/users/{who['ann']}/mailFolders/inbox/messageRules"
    with org.graph() as graph:
        made = graph.post(url, json={"displayName": "all", "sequence": 1, "actions": actions})
    assert made.status_code == 201, made.text
    assert made.json()["actions"] == actions


# -- OneDrive ---------------------------------------------------------------------------------


def test_share_a_leavers_drive_with_the_manager_and_read_it_back(org: EntraDir) -> None:
    who = ids(org)

    async def work(client):
        drive = await client.users.by_user_id(who["ann"]).drive.get()
        root = client.drives.by_drive_id(drive.id).items.by_drive_item_id("root")
        granted = await root.invite.post(
            InvitePostRequestBody(
                recipients=[DriveRecipient(email=f"boss@{org.domain}")],
                roles=["write"],
                require_sign_in=True,
                send_invitation=False,
            )
        )
        again = await root.invite.post(
            InvitePostRequestBody(
                recipients=[DriveRecipient(email=f"boss@{org.domain}")],
                roles=["write"],
                require_sign_in=True,
            )
        )
        return drive, granted, again, await root.permissions.get()

    drive, granted, again, listed = run_sdk(org, work)
    assert drive.drive_type == "business"
    assert granted.value[0].roles == ["write"]
    assert granted.value[0].granted_to_v2.user.id == who["boss"]
    assert again.value[0].id == granted.value[0].id  # asked twice, held once
    holders = {(p.granted_to_v2.user.id, tuple(p.roles)) for p in listed.value}
    assert holders == {(who["ann"], ("owner",)), (who["boss"], ("write",))}


def test_no_sharepoint_licence_no_drive(org: EntraDir) -> None:
    who = ids(org)
    error = odata_error(lambda: run_sdk(org, lambda c: c.users.by_user_id(who["ned"]).drive.get()))
    assert error.response_status_code == 404
    assert error.error.message == "User's mysite not found."


def test_app_only_invites_cannot_add_new_guests_or_invent_roles(org: EntraDir) -> None:
    who = ids(org)
    url = f"/users/{who['ann']}/drive/root/invite"
    with org.graph() as graph:
        stranger = graph.post(
            url,
            json={
                "recipients": [{"email": "someone@elsewhere.example"}],
                "roles": ["write"],
                "requireSignIn": True,
            },
        )
        owner_role = graph.post(
            url,
            json={
                "recipients": [{"email": f"boss@{org.domain}"}],
                "roles": ["owner"],
                "requireSignIn": True,
            },
        )
        listed = graph.get(f"/users/{who['ann']}/drive/root/permissions").json()["value"]
    assert stranger.status_code == owner_role.status_code == 400
    assert [p["roles"] for p in listed] == [["owner"]]


def test_an_invitation_message_is_at_most_2000_characters(org: EntraDir) -> None:
    """driveitem-invite.md: `message` "Maximum length 2000 characters"; a longer one is refused
    and nothing is granted (the sandbox took any length)."""
    who = ids(org)
    url = f"/users/{who['ann']}/drive/root/invite"
    body = {
        "recipients": [{"email": f"boss@{org.domain}"}],
        "roles": ["read"],
        "requireSignIn": True,
    }
    with org.graph() as graph:
        too_long = graph.post(url, json=body | {"message": "m" * 2001})
        held = graph.get(f"/users/{who['ann']}/drive/root/permissions").json()["value"]
        longest = graph.post(url, json=body | {"message": "m" * 2000})
    assert too_long.status_code == 400, too_long.text
    assert too_long.json()["error"]["code"] == "invalidRequest"
    assert "message" in too_long.json()["error"]["message"]
    assert [p["roles"] for p in held] == [["owner"]]
    assert longest.status_code == 200, longest.text


def test_sharing_needs_files_read_write_all(sandbox_server: SandboxServer) -> None:
    d = make_org(sandbox_server, ["User.ReadWrite.All", "Files.Read.All", "MailboxSettings.Read"])
    domain = d.domain
    who = ids(d)
    with d.graph() as graph:
        assert graph.get(f"/users/{who['ann']}/drive/root/permissions").status_code == 200
        invite = graph.post(
            f"/users/{who['ann']}/drive/root/invite",
            json={
                "recipients": [{"email": f"boss@{domain}"}],
                "roles": ["write"],
                "requireSignIn": True,
            },
        )
        assert graph.get(f"/users/{who['ann']}/mailboxSettings").status_code == 200
        patch = graph.patch(
            f"/users/{who['ann']}/mailboxSettings",
            json={"automaticRepliesSetting": {"status": "alwaysEnabled"}},
        )
        rule = graph.post(
            f"/users/{who['ann']}/mailFolders/inbox/messageRules",
            json={"displayName": "x", "actions": {"delete": True}},
        )
    assert invite.status_code == patch.status_code == rule.status_code == 403


def test_a_licence_with_its_exchange_plan_disabled_gives_no_mailbox(org: EntraDir) -> None:
    """The mailbox follows the service plan, not the SKU: E3 without Exchange Online Plan 2."""
    exchange_plan_2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
    e3 = next(s["skuId"] for s in org.state()["subscribedSkus"] if s["skuPartNumber"] == "SPE_E3")
    with org.graph() as graph:
        created = graph.post(
            "/users",
            json={
                "accountEnabled": True,
                "displayName": "Pat Plan",
                "mailNickname": "pat",
                "userPrincipalName": f"pat@{org.domain}",
                "usageLocation": "GB",
                "passwordProfile": {"password": "Sandb0x!pass"},
            },
        ).json()
        assigned = graph.post(
            f"/users/{created['id']}/assignLicense",
            json={
                "addLicenses": [{"skuId": e3, "disabledPlans": [exchange_plan_2]}],
                "removeLicenses": [],
            },
        )
        assert assigned.status_code == 200, assigned.text
        mailbox = graph.get(f"/users/{created['id']}/mailboxSettings")
        drive = graph.get(f"/users/{created['id']}/drive")
    assert mailbox.status_code == 404
    assert mailbox.json()["error"]["code"] == "MailboxNotEnabledForRESTAPI"
    assert drive.status_code == 200  # SharePoint Plan 2 is still on
