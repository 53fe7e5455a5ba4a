"""Temporary Access Passes in the Entra sandbox, through the real msgraph-sdk: the pass shown
once, one per user, bounded by the tenant's policy, refused when the policy is off or the
user out of its scope, and only for apps holding an authentication-method permission."""

from __future__ import annotations

import uuid

import httpx
import pytest
from msgraph.generated.models.authentication_method_state import AuthenticationMethodState
from msgraph.generated.models.authentication_method_target import AuthenticationMethodTarget
from msgraph.generated.models.authentication_method_target_type import (
    AuthenticationMethodTargetType,
)
from msgraph.generated.models.exclude_target import ExcludeTarget
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)
from msgraph.generated.models.temporary_access_pass_authentication_method_configuration import (
    TemporaryAccessPassAuthenticationMethodConfiguration,
)

from tests.sandbox.entra_support import EntraDir, run_sdk, tenant_body
from tests.sandbox.server import SandboxServer

ALL = [
    "User.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
    "UserAuthenticationMethod.ReadWrite.All",
    "Policy.ReadWrite.AuthenticationMethod",
]
POLICY_DISABLED = "Converged UserCredentialPolicy does not allow creating or updating"


@pytest.fixture
def tenant(sandbox_server: SandboxServer) -> EntraDir:
    """A directory whose first app may also change the authentication methods policy; a
    second app holds User.ReadWrite.All and Directory.ReadWrite.All, no method permission."""
    tenant_id, admin, plain = (str(uuid.uuid4()) for _ in range(3))
    domain = f"t{tenant_id[:8]}.example"
    body = tenant_body(tenant_id, domain, admin)
    body["apps"] = [
        {"client_id": admin, "client_secret": "right-secret", "permissions": ALL},
        {
            "client_id": plain,
            "client_secret": "right-secret",
            "permissions": ["User.ReadWrite.All", "Directory.ReadWrite.All"],
        },
    ]
    with sandbox_server.control() as control:
        response = control.post("/_sandbox/entra/tenants", json=body)
        assert response.status_code == 201, response.text
    directory = EntraDir(sandbox_server, tenant_id, domain, admin, "right-secret", response.json())
    directory.created["plain_client_id"] = plain
    return directory


def user_id(d: EntraDir) -> str:
    with d.graph() as graph:
        return graph.get(f"/users/existing@{d.domain}").json()["id"]


def issue(d: EntraDir, uid: str, **fields) -> TemporaryAccessPassAuthenticationMethod:
    async def work(client):
        methods = client.users.by_user_id(uid).authentication.temporary_access_pass_methods
        return await methods.post(TemporaryAccessPassAuthenticationMethod(**fields))

    return run_sdk(d, work)


def refused(d: EntraDir, uid: str, **fields) -> ODataError:
    with pytest.raises(ODataError) as caught:
        issue(d, uid, **fields)
    return caught.value


def listed(d: EntraDir, uid: str):
    async def work(client):
        methods = client.users.by_user_id(uid).authentication.temporary_access_pass_methods
        return (await methods.get()).value

    return run_sdk(d, work)


def set_policy(d: EntraDir, **fields) -> None:
    async def work(client):
        configurations = client.policies.authentication_methods_policy
        by_id = configurations.authentication_method_configurations
        item = by_id.by_authentication_method_configuration_id("TemporaryAccessPass")
        await item.patch(TemporaryAccessPassAuthenticationMethodConfiguration(**fields))

    run_sdk(d, work)


def test_the_pass_is_in_the_creation_answer_only(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    made = issue(tenant, uid, lifetime_in_minutes=120, is_usable_once=True)
    assert made.temporary_access_pass and len(made.temporary_access_pass) == 8
    assert made.lifetime_in_minutes == 120 and made.is_usable_once is True
    assert made.is_usable is True and made.method_usability_reason == "EnabledByPolicy"
    (held,) = listed(tenant, uid)
    assert held.id == made.id
    assert held.temporary_access_pass is None  # hidden in every read
    with tenant.graph() as graph:
        one = graph.get(f"/users/{uid}/authentication/temporaryAccessPassMethods/{made.id}")
    assert one.status_code == 200 and one.json()["temporaryAccessPass"] is None


def test_a_new_pass_replaces_the_one_held(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    first = issue(tenant, uid)
    second = issue(tenant, uid)
    assert first.temporary_access_pass != second.temporary_access_pass
    assert [m.id for m in listed(tenant, uid)] == [second.id]
    assert first.lifetime_in_minutes == 60  # the policy's default


def test_a_disabled_policy_refuses_with_graphs_text(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    set_policy(tenant, state=AuthenticationMethodState.Disabled)
    error = refused(tenant, uid)
    assert error.response_status_code == 400
    assert POLICY_DISABLED in error.error.message
    assert listed(tenant, uid) == []


def test_a_user_outside_the_policys_groups_is_refused(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    staff = tenant.group_id("Staff")
    set_policy(tenant, include_targets=[AuthenticationMethodTarget(id=staff)])
    assert POLICY_DISABLED in refused(tenant, uid).error.message

    async def join(client):
        ref = ReferenceCreate(odata_id=f"{tenant.server.url}/v1.0/directoryObjects/{uid}")
        await client.groups.by_group_id(staff).members.ref.post(ref)

    run_sdk(tenant, join)
    assert issue(tenant, uid).temporary_access_pass


def test_the_lifetime_lies_within_the_policy(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    assert refused(tenant, uid, lifetime_in_minutes=600).response_status_code == 400  # max 480
    assert refused(tenant, uid, lifetime_in_minutes=5).response_status_code == 400  # min 10
    set_policy(tenant, maximum_lifetime_in_minutes=43200, default_lifetime_in_minutes=60)
    assert issue(tenant, uid, lifetime_in_minutes=600).lifetime_in_minutes == 600


def test_a_reusable_pass_needs_a_policy_that_allows_one(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    set_policy(tenant, is_usable_once=True)
    assert refused(tenant, uid, is_usable_once=False).response_status_code == 400
    assert issue(tenant, uid).is_usable_once is True  # the policy's one-time rule applies


def test_an_app_without_a_method_permission_gets_403(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    plain = EntraDir(
        tenant.server,
        tenant.tenant_id,
        tenant.domain,
        tenant.created["plain_client_id"],
        "right-secret",
    )
    error = refused(plain, uid)
    assert error.response_status_code == 403
    assert error.error.code == "Authorization_RequestDenied"
    with plain.graph() as graph:
        listing = graph.get(f"/users/{uid}/authentication/temporaryAccessPassMethods")
    assert listing.status_code == 403


def test_delete_and_unknown_user(tenant: EntraDir) -> None:
    uid = user_id(tenant)
    made = issue(tenant, uid)
    with tenant.graph() as graph:
        path = f"/users/{uid}/authentication/temporaryAccessPassMethods"
        assert graph.delete(f"{path}/{made.id}").status_code == 204
        assert graph.delete(f"{path}/{made.id}").status_code == 404
        assert graph.get(path).json()["value"] == []
        missing = graph.post(
            f"/users/{uuid.uuid4()}/authentication/temporaryAccessPassMethods", json={}
        )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_a_property_the_pass_does_not_have_is_refused(tenant: EntraDir) -> None:
    """temporaryaccesspassauthenticationmethod.md names the pass's properties; a body naming
    another (a misspelt `lifetimeInMinute`) is 400 and no pass is made. The sandbox ignored
    it and issued a pass of the default lifetime, which the caller read as theirs."""
    uid = user_id(tenant)
    path = f"/users/{uid}/authentication/temporaryAccessPassMethods"
    with tenant.graph() as graph:
        typo = graph.post(path, json={"lifetimeInMinute": 120})
        held = graph.get(path).json()["value"]
        typed = graph.post(
            path,
            json={
                "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
                "lifetimeInMinutes": 120,
            },
        )
    assert typo.status_code == 400, typo.text
    assert typo.json()["error"]["code"] == "RequestBodyRead"
    assert "lifetimeInMinute" in typo.json()["error"]["message"]
    assert held == []
    assert typed.status_code == 201, typed.text


def test_the_policy_reads_back_as_graph_shows_it(tenant: EntraDir) -> None:
    with tenant.graph() as graph:
        path = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"
        policy = graph.get(f"{path}/TemporaryAccessPass").json()
        bad = graph.patch(f"{path}/TemporaryAccessPass", json={"defaultLifetimeInMinutes": 5})
    assert policy["state"] == "enabled"
    assert (policy["minimumLifetimeInMinutes"], policy["maximumLifetimeInMinutes"]) == (60, 480)
    assert bad.status_code == 400
    assert isinstance(bad, httpx.Response)


POLICY = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations"


def test_a_user_the_policy_excludes_is_refused(tenant: EntraDir) -> None:
    """ "excludeTargets: Groups of users that are excluded from the policy"
    (temporaryaccesspassauthenticationmethodconfiguration.md; excludetarget.md: a user or a
    group). A user of an excluded group, or a user excluded by name, gets no pass though the
    policy includes all users. The sandbox ignored `excludeTargets` and issued the pass."""
    uid = user_id(tenant)
    staff = tenant.group_id("Staff")
    group = AuthenticationMethodTargetType.Group
    set_policy(tenant, exclude_targets=[ExcludeTarget(id=staff, target_type=group)])
    assert issue(tenant, uid).temporary_access_pass  # not in Staff yet

    async def join(client):
        ref = ReferenceCreate(odata_id=f"{tenant.server.url}/v1.0/directoryObjects/{uid}")
        await client.groups.by_group_id(staff).members.ref.post(ref)

    run_sdk(tenant, join)
    error = refused(tenant, uid)
    assert error.response_status_code == 400 and POLICY_DISABLED in error.error.message
    with tenant.graph() as graph:
        shown = graph.get(f"{POLICY}/TemporaryAccessPass").json()["excludeTargets"]
    assert shown == [{"id": staff, "targetType": "group"}]

    by_name = AuthenticationMethodTargetType.User
    set_policy(tenant, exclude_targets=[ExcludeTarget(id=uid, target_type=by_name)])
    assert POLICY_DISABLED in refused(tenant, uid).error.message
    set_policy(tenant, exclude_targets=[])
    assert issue(tenant, uid).temporary_access_pass


def test_the_policy_takes_only_what_it_declares(tenant: EntraDir) -> None:
    """The policy's properties are the resource's (temporaryaccesspassauthenticationmethod
    configuration.md, not an open type): a misspelt `maximumLifetimeInMinute` is OData's 400
    and nothing changes (the sandbox ignored it and answered 204). An exclusion names a user
    or a group of the tenant (excludetarget.md: targetType user, group): another type is
    400, an unknown object 404, as an unknown included group is."""
    path = f"{POLICY}/TemporaryAccessPass"
    staff = tenant.group_id("Staff")
    with tenant.graph() as graph:
        typo = graph.patch(path, json={"maximumLifetimeInMinute": 600, "state": "disabled"})
        device = graph.patch(path, json={"excludeTargets": [{"id": staff, "targetType": "device"}]})
        unknown = graph.patch(
            path, json={"excludeTargets": [{"id": str(uuid.uuid4()), "targetType": "group"}]}
        )
        policy = graph.get(path).json()
    assert typo.status_code == 400, typo.text
    assert typo.json()["error"]["code"] == "RequestBodyRead"
    assert "maximumLifetimeInMinute" in typo.json()["error"]["message"]
    assert device.status_code == 400, device.text
    assert unknown.status_code == 404, unknown.text
    assert policy["state"] == "enabled" and policy["maximumLifetimeInMinutes"] == 480
    assert policy["excludeTargets"] == []
