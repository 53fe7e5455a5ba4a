"""The Entra connector reads some answers from their JSON instead of the SDK's models (a
Permission, Group or AppRoleAssignment model costs ~15 ms of CPU to parse). Each such reading
must give what the SDK's model gave: here every one is held equal to the model read the
connector did before, on the answers Graph sends and on the odd ones it might (a value of the
wrong type, a null, a missing key, an identity of another kind, a GUID in another form)."""

from __future__ import annotations

import json

import pytest
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.app_role_assignment_collection_response import (
    AppRoleAssignmentCollectionResponse,
)
from msgraph.generated.models.group import Group
from msgraph.generated.models.mailbox_settings import MailboxSettings
from msgraph.generated.models.message_rule import MessageRule
from msgraph.generated.models.permission import Permission

from provisioning.connectors import entra_mail
from provisioning.connectors.base import Resource
from provisioning.connectors.entra import _assignments_to, _group_detail, _group_from_body


def parsed(model, body):
    """`body` as the SDK's model, parsed as the SDK parses an answer."""
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(body).encode())
    return node.get_object_value(model)


ALICE = {"id": "u-1", "displayName": "Alice", "email": "Alice@Example.com"}

PERMISSIONS = [
    {"id": "p1", "roles": ["owner"], "grantedToV2": {"user": ALICE}},
    {"id": "p2", "roles": ["write", "read"], "grantedToV2": {"user": {"id": "u-2"}}},
    {"id": "p3", "roles": ["read"], "grantedToV2": {"siteUser": {"id": "s"}}},  # no user
    {"id": "p4", "roles": None, "grantedToV2": {"user": None}},
    {"id": "p5", "grantedToV2": None},
    {"id": "p6", "roles": ["read", 7, None], "grantedToV2": {"user": {"email": None}}},
    {"id": "p7", "roles": [], "grantedToV2": {"user": "not an object"}},
    {"roles": ["read"], "grantedToV2": {"user": {"id": 5, "email": 12}}},
    # An emailIdentity's email is a field of its own model, not additional data.
    {"roles": ["read"], "grantedToV2": {"user": {"@odata.type": "#microsoft.graph.emailIdentity", "id": "e", "email": "x@y.z"}}},  # noqa: E501
    {"roles": ["read"], "grantedToV2": {"user": {"@odata.type": "#microsoft.graph.userIdentity", "id": "ui", "email": "U@Y.Z"}}},  # noqa: E501
    {"roles": ["read"], "grantedToV2": {"user": {"id": "d", "email": "2024-01-02T03:04:05Z"}}},
    "not a permission",
    None,
]

RULES = [
    {
        "id": "r1",
        "displayName": "Forward",
        "isEnabled": True,
        "actions": {"forwardTo": [{"emailAddress": {"name": "Bob", "address": "Bob@Example.com"}}]},
    },
    {"id": "r2", "displayName": "Off", "isEnabled": False, "actions": {"forwardTo": []}},
    {"id": "r3", "isEnabled": "yes", "actions": {"moveToFolder": "x"}},
    {"id": "r4", "actions": None},
    {"id": "r5", "actions": "not an object"},
    {"id": "r6", "actions": {"forwardTo": "not a list"}},
    {
        "id": 6,
        "displayName": 9,
        "actions": {
            "forwardTo": [
                {"emailAddress": None},
                {"emailAddress": {"address": None}},
                {"emailAddress": "not an object"},
                {},
                None,
                "x",
                {"@odata.type": "#microsoft.graph.attendee", "emailAddress": {"address": "A@B.C"}},
            ]
        },
    },
    {},
    "not a rule",
]

MAILBOX_SETTINGS = [
    {},
    {"automaticRepliesSetting": None},
    {"automaticRepliesSetting": "not an object"},
    {"automaticRepliesSetting": {}},
    {
        "automaticRepliesSetting": {
            "status": "alwaysEnabled",
            "internalReplyMessage": "Gone",
            "externalReplyMessage": "Gone too",
        }
    },
    {"automaticRepliesSetting": {"status": "AlwaysEnabled", "internalReplyMessage": 3}},
    {"automaticRepliesSetting": {"status": "scheduled", "externalReplyMessage": "Later"}},
    {"automaticRepliesSetting": {"status": "disabled"}},
    {"automaticRepliesSetting": {"status": "ALWAYSENABLED"}},
    {"automaticRepliesSetting": {"status": ""}},
    {"automaticRepliesSetting": {"status": 1}},
    {"automaticRepliesSetting": {"status": "none"}},
]

GROUPS = [
    {
        "id": "g1",
        "displayName": "Staff",
        "mailEnabled": False,
        "securityEnabled": True,
        "groupTypes": [],
        "membershipRule": None,
        "onPremisesSyncEnabled": None,
    },
    {"id": "g2", "displayName": "All", "mailEnabled": True, "groupTypes": ["Unified"]},
    {"id": "g3", "membershipRule": '(user.department -eq "Sales")', "groupTypes": ["DynamicMembership"]},  # noqa: E501
    {"id": "g4", "membershipRule": "", "onPremisesSyncEnabled": True, "mailEnabled": "true"},
    {"id": "g5", "groupTypes": ["Unified", 3, None], "securityEnabled": 1},
    {"id": "g6", "groupTypes": None, "displayName": None},
    {"displayName": 5, "membershipRule": 7},
    {},
]

APP = "7f0f1c32-56a3-4a1e-9d59-2b3b0f2e8a10"
ASSIGNMENTS = [
    {"value": [{"id": "a1", "resourceId": APP}, {"id": "a2", "resourceId": "00000000-0000-0000-0000-000000000001"}]},  # noqa: E501
    {"value": [{"id": "a3", "resourceId": APP.upper()}, {"id": "a4", "resourceId": "{" + APP + "}"}]},  # noqa: E501
    {"value": [{"id": "a5", "resourceId": APP.replace("-", "")}, {"id": None, "resourceId": APP}]},
    {"value": [{"id": 5, "resourceId": APP}, {"resourceId": None}, {"id": "a6"}, "x", None]},
    {"value": [{"id": "a7", "resourceId": 12}]},
    {"value": None},
    {"value": "not a list"},
    {},
]


@pytest.mark.parametrize("permission", PERMISSIONS)
def test_a_drive_permission_reads_as_its_model_does(permission):
    assert entra_mail.shares_of([permission]) == entra_mail.shares_from(
        [parsed(Permission, permission)]
    )


def test_a_page_of_drive_permissions_reads_as_its_models_do():
    models = [parsed(Permission, p) for p in PERMISSIONS]
    assert entra_mail.shares_of(PERMISSIONS) == entra_mail.shares_from(models)
    assert entra_mail.shares_of(PERMISSIONS)[0] == entra_mail.DriveShare(
        "u-1", "alice@example.com", ("owner",)
    )


@pytest.mark.parametrize("rule", RULES)
def test_an_inbox_rule_reads_as_its_model_does(rule):
    assert entra_mail.rules_of([rule]) == entra_mail.rules_from([parsed(MessageRule, rule)])


def test_a_forwarding_rule_names_its_address_in_lower_case():
    [rule] = entra_mail.rules_of(RULES[:1])
    assert rule == entra_mail.InboxRule("r1", "Forward", ("bob@example.com",), True)


@pytest.mark.parametrize("settings", MAILBOX_SETTINGS)
def test_automatic_replies_read_as_their_model_does(settings):
    assert entra_mail.auto_reply_of(settings) == entra_mail.auto_reply_from(
        parsed(MailboxSettings, settings)
    )


@pytest.mark.parametrize("group", GROUPS)
def test_a_group_holding_an_address_reads_as_its_model_does(group):
    model = parsed(Group, group)
    assert _group_from_body(group) == Resource(
        str(model.id), model.display_name or "", _group_detail(model)
    )


@pytest.mark.parametrize("page", ASSIGNMENTS)
def test_app_role_assignments_to_an_app_read_as_their_models_do(page):
    model = parsed(AppRoleAssignmentCollectionResponse, page)
    assert _assignments_to(page, APP) == [
        a.id for a in model.value or [] if str(a.resource_id) == APP
    ]


def test_an_assignment_whose_resource_is_no_guid_fails_as_the_models_parse_does():
    page = {"value": [{"id": "a1", "resourceId": "not-a-guid"}]}
    with pytest.raises(ValueError):
        parsed(AppRoleAssignmentCollectionResponse, page)
    with pytest.raises(ValueError):
        _assignments_to(page, APP)
