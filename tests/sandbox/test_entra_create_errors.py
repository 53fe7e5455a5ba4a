"""Creating and changing users as Graph refuses them: no password, a userPrincipalName or an
e-mail address another object holds (proxyAddresses are unique in the directory), with
Graph's texts and error details, through the real msgraph-sdk where it has the call. A
group's address (a distribution list's, a Microsoft 365 group's) counts as much as a user's."""

from __future__ import annotations

import uuid

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
from msgraph.generated.models.group import Group
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.user import User

from tests.sandbox.entra_support import (
    EntraDir,
    assert_graph_error,
    new_user_body,
    run_sdk,
    tenant_body,
)
from tests.sandbox.server import SandboxServer

NO_PASSWORD = "A password must be specified to create a new user."
PROXY_TAKEN = "Another object with the same value for property proxyAddresses already exists."
UPN_TAKEN = "Another object with the same value for property userPrincipalName already exists."


def sdk_user(domain: str, nickname: str, **fields) -> User:
    return User(
        account_enabled=True,
        display_name=nickname.title(),
        mail_nickname=nickname,
        user_principal_name=f"{nickname}@{domain}",
        **{"password_profile": PasswordProfile(password="Sandb0x!pass"), **fields},
    )


def refused(d: EntraDir, call) -> ODataError:
    async def work(client):
        with pytest.raises(ODataError) as caught:
            await call(client)
        return caught.value

    return run_sdk(d, work)


def user_count(d: EntraDir) -> int:
    return len(d.state()["users"])


def test_create_without_a_password(entra: EntraDir) -> None:
    error = refused(
        entra, lambda c: c.users.post(sdk_user(entra.domain, "nopass", password_profile=None))
    )
    assert (error.response_status_code, error.error.code) == (400, "Request_BadRequest")
    assert error.error.message == NO_PASSWORD
    with entra.graph() as graph:
        empty = new_user_body(
            entra.domain, "empty", passwordProfile={"forceChangePasswordNextSignIn": True}
        )
        assert_graph_error(graph.post("/users", json=empty), 400, "Request_BadRequest", NO_PASSWORD)


def test_duplicate_upn_names_the_property(entra: EntraDir) -> None:
    error = refused(entra, lambda c: c.users.post(sdk_user(entra.domain, "existing")))
    assert error.error.message == UPN_TAKEN
    assert [(d.code, d.target) for d in error.error.details][0] == (
        "ObjectConflict",
        "userPrincipalName",
    )


def test_mail_another_user_holds_is_refused(entra: EntraDir) -> None:
    before = user_count(entra)
    mail = f"EXISTING@{entra.domain}"  # the seeded user's mail, in another case
    error = refused(entra, lambda c: c.users.post(sdk_user(entra.domain, "newcomer", mail=mail)))
    assert (error.response_status_code, error.error.code) == (400, "Request_BadRequest")
    assert error.error.message == PROXY_TAKEN
    details = [(d.code, d.target) for d in error.error.details]
    with entra.graph() as graph:
        existing = graph.get(f"/users/existing@{entra.domain}").json()
    assert details == [
        ("ObjectConflict", "proxyAddresses"),
        ("ConflictingObjects", f"User_{existing['id']}"),
    ]
    assert user_count(entra) == before  # nothing written


def with_alias(server: SandboxServer) -> EntraDir:
    """A directory whose one user holds sales@ as a secondary address besides its mail."""
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"t{tenant_id[:8]}.example"
    holder = {
        "userPrincipalName": f"holder@{domain}",
        "mail": f"holder@{domain}",
        "proxyAddresses": [f"smtp:sales@{domain}"],
    }
    with server.control() as control:
        body = tenant_body(tenant_id, domain, client_id, users=[holder])
        response = control.post("/_sandbox/entra/tenants", json=body)
        assert response.status_code == 201, response.text
    return EntraDir(server, tenant_id, domain, client_id, "right-secret", response.json())


def test_alias_of_another_user_is_refused(sandbox_server: SandboxServer) -> None:
    d = with_alias(sandbox_server)
    with d.graph() as graph:
        held = graph.get(f"/users/holder@{d.domain}", params={"$select": "proxyAddresses"})
        assert held.json()["proxyAddresses"] == [
            f"SMTP:holder@{d.domain}",
            f"smtp:sales@{d.domain}",
        ]
        body = new_user_body(d.domain, "joiner", mail=f"sales@{d.domain}")
        assert_graph_error(graph.post("/users", json=body), 400, "Request_BadRequest", PROXY_TAKEN)


def test_mail_change_onto_another_users_address(entra: EntraDir) -> None:
    with entra.graph() as graph:
        mine = graph.post(
            "/users", json=new_user_body(entra.domain, "mover", mail=f"mover@{entra.domain}")
        ).json()
        read = graph.get(f"/users/{mine['id']}", params={"$select": "mail,proxyAddresses"}).json()
        assert read["proxyAddresses"] == [f"SMTP:mover@{entra.domain}"]
        clash = graph.patch(
            f"/users/{mine['id']}", json={"mail": f"existing@{entra.domain}", "jobTitle": "X"}
        )
        assert_graph_error(clash, 400, "Request_BadRequest", PROXY_TAKEN)
        after = graph.get(f"/users/{mine['id']}", params={"$select": "mail,jobTitle"}).json()
        assert (after["mail"], after["jobTitle"]) == (f"mover@{entra.domain}", None)
        # A new mail replaces the primary address: the old one is free for someone else.
        moved = graph.patch(f"/users/{mine['id']}", json={"mail": f"moved@{entra.domain}"})
        assert moved.status_code == 204
        again = new_user_body(entra.domain, "second", mail=f"mover@{entra.domain}")
        assert graph.post("/users", json=again).status_code == 201


def test_restore_refused_while_another_user_holds_the_mail(entra: EntraDir) -> None:
    with entra.graph() as graph:
        gone = graph.post(
            "/users", json=new_user_body(entra.domain, "leaver", mail=f"desk@{entra.domain}")
        ).json()
        assert graph.delete(f"/users/{gone['id']}").status_code == 204
        taker = new_user_body(entra.domain, "taker", mail=f"desk@{entra.domain}")
        assert graph.post("/users", json=taker).status_code == 201
        restore = graph.post(f"/directory/deletedItems/{gone['id']}/restore")
        assert_graph_error(restore, 400, "Request_BadRequest", PROXY_TAKEN)


def with_distribution_list(server: SandboxServer) -> EntraDir:
    """A directory with a distribution list, Sales-All, whose address is sales-all@."""
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"t{tenant_id[:8]}.example"
    groups = [
        {"display_name": "Staff"},
        {
            "display_name": "Sales-All",
            "mail_nickname": "sales-all",
            "mail_enabled": True,
            "security_enabled": False,
        },
    ]
    with server.control() as control:
        body = tenant_body(tenant_id, domain, client_id, groups=groups)
        response = control.post("/_sandbox/entra/tenants", json=body)
        assert response.status_code == 201, response.text
    return EntraDir(server, tenant_id, domain, client_id, "right-secret", response.json())


def group_by_mail(d: EntraDir, address: str) -> list[Group]:
    """The groups holding `address`, found as Graph finds them: a default $filter on
    proxyAddresses through any()."""
    query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
        filter=f"proxyAddresses/any(p:p eq 'smtp:{address}')",
        select=["id", "displayName", "mail", "proxyAddresses"],
    )
    config = RequestConfiguration(query_parameters=query)
    return run_sdk(d, lambda client: client.groups.get(config)).value


def test_a_distribution_lists_address_is_refused_for_a_new_user(
    sandbox_server: SandboxServer,
) -> None:
    d = with_distribution_list(sandbox_server)
    [dl] = group_by_mail(d, f"SALES-ALL@{d.domain}")
    assert (dl.display_name, dl.mail) == ("Sales-All", f"sales-all@{d.domain}")
    assert dl.proxy_addresses == [f"SMTP:sales-all@{d.domain}"]
    before = user_count(d)
    mail = f"Sales-All@{d.domain}"
    error = refused(d, lambda c: c.users.post(sdk_user(d.domain, "newcomer", mail=mail)))
    assert (error.response_status_code, error.error.code) == (400, "Request_BadRequest")
    assert error.error.message == PROXY_TAKEN
    assert [(e.code, e.target) for e in error.error.details] == [
        ("ObjectConflict", "proxyAddresses"),
        ("ConflictingObjects", f"Group_{dl.id}"),
    ]
    assert user_count(d) == before  # nothing written


def test_groups_report_their_addresses(sandbox_server: SandboxServer) -> None:
    d = with_distribution_list(sandbox_server)
    groups = run_sdk(d, lambda client: client.groups.get()).value
    addresses = {g.display_name: g.proxy_addresses for g in groups}
    assert addresses["Sales-All"] == [f"SMTP:sales-all@{d.domain}"]
    assert addresses["Staff"] == []  # a security group: none, but never null


def test_mail_change_or_restore_onto_a_groups_address(sandbox_server: SandboxServer) -> None:
    d = with_distribution_list(sandbox_server)
    with d.graph() as graph:
        mine = graph.post("/users", json=new_user_body(d.domain, "mover")).json()
        clash = graph.patch(
            f"/users/{mine['id']}", json={"mail": f"sales-all@{d.domain}", "jobTitle": "X"}
        )
        assert_graph_error(clash, 400, "Request_BadRequest", PROXY_TAKEN)
        after = graph.get(f"/users/{mine['id']}", params={"$select": "mail,jobTitle"}).json()
        assert (after["mail"], after["jobTitle"]) == (None, None)
        # A leaver's address taken by a Microsoft 365 group meanwhile: no restore.
        gone = graph.post(
            "/users", json=new_user_body(d.domain, "leaver", mail=f"team@{d.domain}")
        ).json()
        assert graph.delete(f"/users/{gone['id']}").status_code == 204
    team = run_sdk(d, lambda client: client.groups.post(m365_group("team")))
    assert (team.mail, team.proxy_addresses) == (f"team@{d.domain}", [f"SMTP:team@{d.domain}"])
    with d.graph() as graph:
        restore = graph.post(f"/directory/deletedItems/{gone['id']}/restore")
        assert_graph_error(restore, 400, "Request_BadRequest", PROXY_TAKEN)
        assert restore.json()["error"]["details"][1]["target"] == f"Group_{team.id}"


def m365_group(nickname: str) -> Group:
    return Group(
        display_name=nickname.title(),
        mail_nickname=nickname,
        mail_enabled=True,
        security_enabled=False,
        group_types=["Unified"],
    )


def test_a_microsoft_365_group_onto_a_users_address_is_refused(entra: EntraDir) -> None:
    error = refused(entra, lambda c: c.groups.post(m365_group("existing")))
    assert (error.response_status_code, error.error.message) == (400, PROXY_TAKEN)
    holder = error.error.details[1].target
    assert holder.startswith("User_")
    assert group_by_mail(entra, f"existing@{entra.domain}") == []  # nothing written
