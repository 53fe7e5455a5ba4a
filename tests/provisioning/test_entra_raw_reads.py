"""The Entra connector reads some answers from their JSON instead of the SDK's models (a
Permission, Group or AppRoleAssignment model costs ~15 ms of CPU to parse), and writes a
user's body without its User model. Each such reading must give what the SDK's model gave,
each request be the one the model sent: here every one is held equal to what the connector
did through the models before, on the answers Graph sends and on the odd ones it might (a
value of the wrong type, a null, a missing key, an identity of another kind, a GUID in
another form), and on the bodies a create, an update and a password reset send."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest
from kiota_abstractions.authentication import AnonymousAuthenticationProvider
from kiota_abstractions.method import Method
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph import GraphServiceClient
from msgraph.generated.models.app_role_assignment_collection_response import (
    AppRoleAssignmentCollectionResponse,
)
from msgraph.generated.models.domain_collection_response import DomainCollectionResponse
from msgraph.generated.models.entity import Entity
from msgraph.generated.models.group import Group
from msgraph.generated.models.group_collection_response import GroupCollectionResponse
from msgraph.generated.models.mailbox_settings import MailboxSettings
from msgraph.generated.models.message_rule import MessageRule
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.permission import Permission
from msgraph.generated.models.subscribed_sku_collection_response import (
    SubscribedSkuCollectionResponse,
)
from msgraph.generated.models.user import User
from msgraph.graph_request_adapter import GraphRequestAdapter

from provisioning.connectors import bridge, entra_mail
from provisioning.connectors.base import NewUser, Resource
from provisioning.connectors.entra import (
    ATTRIBUTE_KEYS,
    EntraConnector,
    _assignments_to,
    _domain_from_body,
    _group_detail,
    _group_from_body,
    _sku_from_body,
    _user_fields,
    user_request,
)
from provisioning.connectors.factory import connector_for
from tests.provisioning.directories import make_directories


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
    {
        "roles": ["read"],
        "grantedToV2": {
            "user": {"@odata.type": "#microsoft.graph.emailIdentity", "id": "e", "email": "x@y.z"}
        },
    },  # noqa: E501
    {
        "roles": ["read"],
        "grantedToV2": {
            "user": {"@odata.type": "#microsoft.graph.userIdentity", "id": "ui", "email": "U@Y.Z"}
        },
    },  # noqa: E501
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
    {
        "id": "g3",
        "membershipRule": '(user.department -eq "Sales")',
        "groupTypes": ["DynamicMembership"],
    },  # noqa: E501
    {"id": "g4", "membershipRule": "", "onPremisesSyncEnabled": True, "mailEnabled": "true"},
    {"id": "g5", "groupTypes": ["Unified", 3, None], "securityEnabled": 1},
    {"id": "g6", "groupTypes": None, "displayName": None},
    {"displayName": 5, "membershipRule": 7},
    {},
]

APP = "7f0f1c32-56a3-4a1e-9d59-2b3b0f2e8a10"
ASSIGNMENTS = [
    {
        "value": [
            {"id": "a1", "resourceId": APP},
            {"id": "a2", "resourceId": "00000000-0000-0000-0000-000000000001"},
        ]
    },  # noqa: E501
    {
        "value": [
            {"id": "a3", "resourceId": APP.upper()},
            {"id": "a4", "resourceId": "{" + APP + "}"},
        ]
    },  # noqa: E501
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


SKU = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SKUS = [
    {"skuId": SKU, "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 3,
     "prepaidUnits": {"enabled": 25, "suspended": 0, "warning": 0}},
    {"skuId": SKU.upper(), "skuPartNumber": "EMS", "consumedUnits": 0, "prepaidUnits": {}},
    {"skuId": "{" + SKU + "}", "consumedUnits": None, "prepaidUnits": None},
    {"skuId": SKU.replace("-", ""), "skuPartNumber": 5, "consumedUnits": "7",
     "prepaidUnits": {"enabled": "25"}},
    {"skuId": None, "consumedUnits": True, "prepaidUnits": {"enabled": None}},
    {"skuPartNumber": "X", "prepaidUnits": "not an object"},
    {"skuId": 12, "prepaidUnits": {"enabled": 2.5}},
    {},
]  # fmt: skip

DOMAINS = [
    {"id": "Example.COM", "authenticationType": "Managed", "isVerified": True},
    {"id": "corp.example.com", "authenticationType": "Federated", "isVerified": True},
    {"id": "new.example.com", "authenticationType": "federated", "isVerified": "true"},
    {"id": "x.example.com", "authenticationType": None, "isVerified": None},
    {"id": "y.example.com", "authenticationType": 3, "isVerified": 1},
    {"id": "z.example.com"},
]


def _catalogue_page(model, items) -> list:
    """A collection page's items, parsed as the SDK parsed them (`value` of its model)."""
    return parsed(model, {"value": items}).value or []


def test_subscribed_skus_read_as_their_models_do():
    expected = [
        Resource(
            str(sku.sku_id),
            sku.sku_part_number or "",
            {
                "total": sku.prepaid_units.enabled if sku.prepaid_units else 0,
                "consumed": sku.consumed_units or 0,
            },
        )
        for sku in _catalogue_page(SubscribedSkuCollectionResponse, SKUS)
    ]
    assert [_sku_from_body(sku) for sku in SKUS] == expected


def test_a_sku_whose_id_is_no_guid_fails_as_the_models_parse_does():
    with pytest.raises(ValueError):
        _catalogue_page(SubscribedSkuCollectionResponse, [{"skuId": "not-a-guid"}])
    with pytest.raises(ValueError):
        _sku_from_body({"skuId": "not-a-guid"})


def test_domains_read_as_their_models_do():
    expected = []
    for domain in _catalogue_page(DomainCollectionResponse, DOMAINS):
        federated = (domain.authentication_type or "").lower() == "federated"
        detail = {"verified": bool(domain.is_verified), "federated": federated}
        expected.append(Resource(str(domain.id).lower(), str(domain.id).lower(), detail))
    assert [_domain_from_body(domain) for domain in DOMAINS] == expected


def test_a_page_of_groups_reads_as_its_models_do():
    expected = [
        Resource(str(g.id), g.display_name or "", _group_detail(g))
        for g in _catalogue_page(GroupCollectionResponse, GROUPS)
    ]
    assert [_group_from_body(g) for g in GROUPS] == expected


@pytest.mark.django_db
def test_catalogue_reads_follow_every_page_and_build_no_sdk_model(on_sandbox, monkeypatch):
    """Groups (two pages: Graph lists 100 a page), SKUs and domains, read from the sandbox
    through the SDK's request builders, without one SDK model parsed (each ~3 ms of CPU)."""
    teams = [{"display_name": f"Team {n:03}"} for n in range(110)]
    dirs = make_directories(on_sandbox, "catread", entra_extra={"groups": teams})
    connector = connector_for(dirs.tenant.connections.get())
    parsed_models = []
    original = Entity.get_field_deserializers

    def counted(self):
        parsed_models.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(Entity, "get_field_deserializers", counted)
    groups = bridge.run(connector.groups(fresh=True))
    skus = {s.name: s.detail for s in bridge.run(connector.licenses(fresh=True))}
    domains = {d.id: d.detail for d in bridge.run(connector.domains(fresh=True))}
    names = {g.name for g in groups}
    assert {f"Team {n:03}" for n in range(110)} <= names and {"Staff", "Sales"} <= names
    assert len(groups) == len({g.id for g in groups}) > 110
    assert next(g for g in groups if g.name == "Sales (dynamic)").detail["dynamic"] is True
    assert skus["SPE_E3"] == {"total": 100, "consumed": 0} and skus["EMS"]["total"] == 50
    assert domains["catread.example"] == {"verified": True, "federated": False}
    assert parsed_models == []


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


# -- writes: the User body built without the SDK's model -------------------------------------

ADA = NewUser(
    username="ada.lovelace@example.com",
    first_name="Ada",
    last_name="Lovelace",
    display_name="Ada Lovelace",
    email="ada@example.com",
    password="Pa55-word!",
    attributes={"department": "Sales", "job_title": "AE", "usage_location": "GB", "company": "Co"},
)
NEW_USERS = [
    ADA,
    replace(ADA, email="", enabled=False, attributes={}),
    replace(ADA, attributes={"company": "Co", "office": "HQ", "department": None, "x": 1}),
    replace(ADA, first_name="Zoë “Q”", display_name="Ünïcode \\ / \n", attributes={"job_title": 7}),
    replace(ADA, password=""),
]
UPDATES = [
    {"department": "Finance"},
    {"enabled": False},
    {"enabled": True, "job_title": None, "email": None, "first_name": "Ada"},
    {"department": None},
    {"office": "HQ", "company": "", "usage_location": "FR", "unknown": "x"},
    {"display_name": 5, "last_name": None},
]


def sdk_create(new: NewUser):
    """The request create_user sent through the SDK's User model before."""
    users = sdk_client().users
    return users.to_post_request_information(
        User(
            account_enabled=new.enabled,
            user_principal_name=new.username,
            mail_nickname=new.username.split("@", 1)[0],
            password_profile=PasswordProfile(
                password=new.password, force_change_password_next_sign_in=True
            ),
            **_user_fields(
                {
                    "first_name": new.first_name,
                    "last_name": new.last_name,
                    "display_name": new.display_name,
                    "email": new.email,
                    **new.attributes,
                }
            ),
        )
    )


def sdk_client():
    adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
    adapter.base_url = "https://graph.example/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def sent(info) -> tuple:
    """What a RequestInformation puts on the wire: method, URL, headers in order, bytes."""
    return info.http_method, info.url, list(info.request_headers.items()), info.content


def raw_create(new: NewUser):
    """The request create_user sends now, taken at the SDK's adapter (answered as Graph
    would, with the new user)."""
    captured = []
    client = sdk_client()

    async def send(info, *_):
        captured.append(info)
        return json.dumps({"id": "u-1", "userPrincipalName": new.username}).encode()

    client.request_adapter.send_primitive_async = send
    connector = EntraConnector(tenant_id="t", client_id="c", secret="s", login_url="", graph_url="")
    connector._client = client
    assert asyncio.run(connector.create_user(new)).id == "u-1"
    [info] = captured
    return info


@pytest.mark.parametrize("new", NEW_USERS)
def test_a_create_sends_the_request_the_sdks_user_model_sent(new):
    assert sent(raw_create(new)) == sent(sdk_create(new))


@pytest.mark.parametrize("attributes", UPDATES)
def test_an_update_sends_the_request_the_sdks_user_model_sent(attributes):
    fields = _user_fields(attributes)
    if "enabled" in attributes:
        fields["account_enabled"] = bool(attributes["enabled"])
    cleared = {
        ATTRIBUTE_KEYS[k]: None for k, v in attributes.items() if v is None and k in ATTRIBUTE_KEYS
    }
    user = sdk_client().users.by_user_id("u-1")
    model = User(**fields, **({"additional_data": cleared} if cleared else {}))
    assert sent(user_request(Method.PATCH, user, fields, cleared)) == sent(
        user.to_patch_request_information(model)
    )


def test_a_password_reset_sends_the_request_the_sdks_user_model_sent():
    user = sdk_client().users.by_user_id("u-1")
    profile = PasswordProfile(password="N3w-pass!", force_change_password_next_sign_in=True)
    assert sent(user_request(Method.PATCH, user, {"password_profile": "N3w-pass!"})) == sent(
        user.to_patch_request_information(User(password_profile=profile))
    )
