"""`POST /groups` takes what group.md and group-post-groups.md publish, as `PATCH /groups`
and `POST /users` already did: no undeclared or read-only property, values of their types, a
`visibility` of the three Graph names (HiddenMembership only when a Microsoft 365 group is
made), and `isAssignableToRole` made as asked, under its conditions and permission. The
sandbox made the group and dropped or stored whatever else came. Sources beside each rule in
sandbox/entra/group_body.py; docs/sandbox-fidelity.md (strict19)."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error, tenant_body
from tests.sandbox.server import SandboxServer

DENIED = "Insufficient privileges to complete the operation."


def security(nickname: str, **extra: object) -> dict:
    return {
        "displayName": nickname.title(),
        "mailEnabled": False,
        "mailNickname": nickname,
        "securityEnabled": True,
        **extra,
    }


def microsoft_365(nickname: str, **extra: object) -> dict:
    return {**security(nickname, mailEnabled=True, securityEnabled=False, **extra)} | {
        "groupTypes": ["Unified"]
    }


def invalid(prop: str) -> str:
    return f"Invalid value specified for property '{prop}' of resource 'Group'."


def nicknames(entra: EntraDir) -> set[str]:
    with entra.graph() as graph:
        listed = graph.get("/groups", params={"$select": "mailNickname"}).json()["value"]
    return {g["mailNickname"] for g in listed}


@pytest.mark.parametrize(
    ("prop", "message"),
    [
        ("costCenter", "Property 'costCenter' does not exist as a declared property"),
        ("Description", "Property 'Description' does not exist as a declared property"),
        ("mail", "Property 'mail' is read-only and cannot be set."),
        ("id", "Property 'id' is read-only and cannot be set."),
        ("proxyAddresses", "Property 'proxyAddresses' is read-only and cannot be set."),
    ],
)
def test_a_property_a_create_cannot_set_is_refused_and_no_group_made(
    entra: EntraDir, prop: str, message: str
) -> None:
    with entra.graph() as graph:
        refused = graph.post("/groups", json=security("night", **{prop: "x"}))
        assert_graph_error(refused, 400, "Request_BadRequest", message)
    assert "night" not in nicknames(entra)


@pytest.mark.parametrize(
    ("prop", "value"),
    [("description", 5), ("groupTypes", "Unified"), ("groupTypes", [1]), ("visibility", 1)],
)
def test_a_value_of_another_type_is_refused(entra: EntraDir, prop: str, value: object) -> None:
    with entra.graph() as graph:
        refused = graph.post("/groups", json=security("typed", **{prop: value}))
        assert_graph_error(refused, 400, "Request_BadRequest", invalid(prop))
    assert "typed" not in nicknames(entra)


def test_a_rule_is_on_or_paused(entra: EntraDir) -> None:
    """group.md, membershipRuleProcessingState: "Possible values are On or Paused". The
    sandbox answered any value, and Paused, with a rule that was On; it now refuses another
    value and says it does not model a paused rule."""
    dynamic = {"groupTypes": ["DynamicMembership"], "membershipRule": 'user.city -eq "Leeds"'}
    with entra.graph() as graph:
        for state, status, code in [
            ("Off", 400, "Request_BadRequest"),
            ("Paused", 501, "NotImplemented"),
        ]:
            body = security("ruled", membershipRuleProcessingState=state, **dynamic)
            refused = graph.post("/groups", json=body)
            message = invalid("membershipRuleProcessingState") if status == 400 else "paused"
            assert_graph_error(refused, status, code, message)
        made = graph.post(
            "/groups", json=security("ruled", membershipRuleProcessingState="On", **dynamic)
        )
        assert made.json()["membershipRuleProcessingState"] == "On"


def test_members_bound_at_the_create_are_said_not_modelled(entra: EntraDir) -> None:
    """group-post-groups.md, Example 2 (`members@odata.bind`): the sandbox made the group
    without its members; it says it does not model them instead."""
    with entra.graph() as graph:
        user = graph.get(f"/users/existing@{entra.domain}").json()["id"]
        bound = [f"https://graph.microsoft.com/v1.0/users/{user}"]
        refused = graph.post("/groups", json=security("bound", **{"members@odata.bind": bound}))
        assert_graph_error(refused, 501, "NotImplemented", "members@odata.bind")
    assert "bound" not in nicknames(entra)


def test_visibility_is_private_public_or_hidden_membership(entra: EntraDir) -> None:
    with entra.graph() as graph:
        refused = graph.post("/groups", json=microsoft_365("seen", visibility="Secret"))
        assert_graph_error(refused, 400, "Request_BadRequest", invalid("visibility"))
        made = graph.post("/groups", json=microsoft_365("seen", visibility="Private"))
        assert made.status_code == 201, made.text
        group = made.json()["id"]
        renamed = graph.patch(f"/groups/{group}", json={"visibility": "Everyone"})
        assert_graph_error(renamed, 400, "Request_BadRequest", invalid("visibility"))
        assert graph.patch(f"/groups/{group}", json={"visibility": "Public"}).status_code == 204
        assert graph.get(f"/groups/{group}").json()["visibility"] == "Public"


def test_a_microsoft_365_group_made_without_visibility_is_public(entra: EntraDir) -> None:
    """group-post-groups.md, Example 1's answer ("visibility": "Public"); Example 2's security
    group answers null."""
    with entra.graph() as graph:
        unified = graph.post("/groups", json=microsoft_365("open"))
        assert unified.json()["visibility"] == "Public"
        plain = graph.post("/groups", json=security("plain"))
        assert plain.json()["visibility"] is None


def test_hidden_membership_only_when_a_microsoft_365_group_is_made(entra: EntraDir) -> None:
    """group.md: "HiddenMembership can be set only for Microsoft 365 groups when the groups
    are created. It can't be updated later."""
    with entra.graph() as graph:
        refused = graph.post("/groups", json=security("hidden", visibility="HiddenMembership"))
        assert_graph_error(refused, 400, "Request_BadRequest", invalid("visibility"))
        hidden = graph.post("/groups", json=microsoft_365("hidden", visibility="HiddenMembership"))
        assert hidden.json()["visibility"] == "HiddenMembership"
        shown = graph.patch(f"/groups/{hidden.json()['id']}", json={"visibility": "Public"})
        assert_graph_error(shown, 400, "Request_BadRequest", invalid("visibility"))
        public = graph.post("/groups", json=microsoft_365("later"))
        later = graph.patch(
            f"/groups/{public.json()['id']}", json={"visibility": "HiddenMembership"}
        )
        assert_graph_error(later, 400, "Request_BadRequest", invalid("visibility"))
        assert graph.get(f"/groups/{public.json()['id']}").json()["visibility"] == "Public"
    assert nicknames(entra) >= {"hidden", "later"}


def with_permissions(server: SandboxServer, *permissions: str) -> EntraDir:
    """A directory whose app holds the group and user permissions and `permissions`."""
    tenant, client = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"t{tenant[:8]}.example"
    granted = ["Group.ReadWrite.All", "User.ReadWrite.All", *permissions]
    app = {"client_id": client, "client_secret": "right-secret", "permissions": granted}
    body = tenant_body(tenant, domain, client, apps=[app])
    with server.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    return EntraDir(server, tenant, domain, client, "right-secret", created.json())


def test_a_role_assignable_group_is_made_as_asked(sandbox_server: SandboxServer) -> None:
    """group.md, isAssignableToRole: set at creation, with securityEnabled, never dynamic,
    always Private; RoleManagement.ReadWrite.Directory to set it. The sandbox dropped the
    property and made an ordinary group."""
    entra = with_permissions(sandbox_server, "RoleManagement.ReadWrite.Directory")
    with entra.graph() as graph:
        made = graph.post("/groups", json=security("admins", isAssignableToRole=True))
        assert made.status_code == 201, made.text
        read = graph.get(f"/groups/{made.json()['id']}").json()
        assert (read["isAssignableToRole"], read["visibility"]) == (True, "Private")
        public = graph.patch(f"/groups/{read['id']}", json={"visibility": "Public"})
        assert_graph_error(public, 400, "Request_BadRequest", invalid("visibility"))
        for wrong, prop in [
            ({"securityEnabled": False, "mailEnabled": True, "groupTypes": ["Unified"]}, None),
            ({"groupTypes": ["DynamicMembership"], "membershipRule": 'user.city -eq "X"'}, None),
            ({"visibility": "Public"}, "visibility"),
        ]:
            body = security("wrong", isAssignableToRole=True, **wrong)
            refused = graph.post("/groups", json=body)
            expected = invalid(prop or "isAssignableToRole")
            assert_graph_error(refused, 400, "Request_BadRequest", expected)
    assert "wrong" not in nicknames(entra)


def test_role_assignable_needs_role_management(sandbox_server: SandboxServer) -> None:
    entra = with_permissions(sandbox_server)
    with entra.graph() as graph:
        refused = graph.post("/groups", json=security("admins", isAssignableToRole=True))
        assert_graph_error(refused, 403, "Authorization_RequestDenied", DENIED)
        assert graph.post("/groups", json=security("ordinary")).status_code == 201
    assert nicknames(entra) >= {"ordinary"} and "admins" not in nicknames(entra)
