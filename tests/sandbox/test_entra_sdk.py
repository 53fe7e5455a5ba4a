"""The real msgraph-sdk and azure-identity against the Entra sandbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential as SyncClientSecretCredential
from azure.identity.aio import CertificateCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.app_role_assignment import AppRoleAssignment
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from tests.sandbox.entra_support import E3, GRAPH_SCOPE, EntraDir, make_entra, run_sdk
from tests.sandbox.server import SandboxServer


def new_user(domain: str, nickname: str) -> User:
    return User(
        account_enabled=True,
        display_name=nickname.title(),
        mail_nickname=nickname,
        user_principal_name=f"{nickname}@{domain}",
        password_profile=PasswordProfile(password="Sandb0x!pass"),
    )


def test_round_trip_create_license_group_app_read_disable(entra: EntraDir) -> None:
    group_id = entra.group_id("Staff")
    salesforce = entra.sp("Salesforce")
    role_id = salesforce["appRoles"][0]["id"]

    async def work(client):
        created = await client.users.post(new_user(entra.domain, "ada.lovelace"))
        user = client.users.by_user_id(created.id)
        await user.patch(User(usage_location="GB", department="Finance"))
        await user.assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=E3, disabled_plans=[])], remove_licenses=[]
            )
        )
        await client.groups.by_group_id(group_id).members.ref.post(
            ReferenceCreate(odata_id=f"{entra.server.url}/v1.0/directoryObjects/{created.id}")
        )
        await client.service_principals.by_service_principal_id(
            salesforce["id"]
        ).app_role_assigned_to.post(
            AppRoleAssignment(
                principal_id=created.id, resource_id=salesforce["id"], app_role_id=role_id
            )
        )
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
            select=["id", "userPrincipalName", "accountEnabled", "usageLocation", "department"]
        )
        read = await client.users.by_user_id(f"ada.lovelace@{entra.domain}").get(
            RequestConfiguration(query_parameters=query)
        )
        member_of = await user.member_of.get()
        licences = await user.license_details.get()
        assignments = await user.app_role_assignments.get()
        await user.patch(User(account_enabled=False))
        return created, read, member_of, licences, assignments

    created, read, member_of, licences, assignments = run_sdk(entra, work)
    assert read.id == created.id
    assert read.account_enabled is True
    assert (read.usage_location, read.department) == ("GB", "Finance")
    assert [g.display_name for g in member_of.value] == ["Staff"]
    assert [lic.sku_part_number for lic in licences.value] == ["SPE_E3"]
    assert [(str(a.resource_id), str(a.app_role_id)) for a in assignments.value] == [
        (salesforce["id"], role_id)
    ]
    state = entra.state()
    held = next(u for u in state["users"] if u["id"] == created.id)
    assert held["accountEnabled"] is False
    assert held["licenses"] == ["SPE_E3"]
    assert held["groups"] == ["Staff"]
    assert [a["app"] for a in held["appRoleAssignments"]] == ["Salesforce"]
    sku = next(s for s in state["subscribedSkus"] if s["skuPartNumber"] == "SPE_E3")
    assert sku["consumed"] == 1


def test_sdk_sees_graph_errors_as_odata_errors(entra: EntraDir) -> None:
    async def work(client):
        await client.users.post(new_user(entra.domain, "dup"))
        with pytest.raises(ODataError) as caught:
            await client.users.post(new_user(entra.domain, "dup"))
        return caught.value

    error = run_sdk(entra, work)
    assert error.response_status_code == 400
    assert error.error.code == "Request_BadRequest"
    assert error.error.message == (
        "Another object with the same value for property userPrincipalName already exists."
    )


def test_sdk_filter_select_and_default_properties(entra: EntraDir) -> None:
    async def work(client):
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter=f"userPrincipalName eq 'EXISTING@{entra.domain}'",
            select=["id", "department", "accountEnabled"],
        )
        filtered = await client.users.get(RequestConfiguration(query_parameters=query))
        default = await client.users.get()
        return filtered, default

    filtered, default = run_sdk(entra, work)
    assert [(u.department, u.account_enabled) for u in filtered.value] == [("Sales", True)]
    # Graph leaves accountEnabled and department out unless $select asks for them.
    assert default.value[0].account_enabled is None
    assert default.value[0].user_principal_name == f"existing@{entra.domain}"


def test_sync_credential_fetches_discovery_then_token(entra: EntraDir) -> None:
    credential = SyncClientSecretCredential(
        entra.tenant_id,
        entra.client_id,
        entra.client_secret,
        authority=entra.server.url,
        disable_instance_discovery=True,
        connection_verify=str(entra.server.ca),
    )
    token = credential.get_token(GRAPH_SCOPE)
    assert token.token and token.expires_on > 0
    calls = entra.stats()["calls"]
    assert calls["GET /{tenant}/v2.0/.well-known/openid-configuration"] >= 1
    assert calls["POST /{tenant}/oauth2/v2.0/token"] >= 1


def test_wrong_secret_fails_authentication_with_aadsts(entra: EntraDir) -> None:
    entra.client_secret = "wrong"

    async def work(client):
        await client.users.get()

    with pytest.raises(ClientAuthenticationError) as caught:
        run_sdk(entra, work)
    assert "AADSTS7000215" in str(caught.value)


def self_signed(common_name: str) -> tuple[bytes, str]:
    """(private key + certificate PEM, certificate PEM) for a certificate credential."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem + cert_pem, cert_pem.decode()


def test_certificate_credential_signs_in_and_a_foreign_certificate_does_not(
    sandbox_server: SandboxServer,
) -> None:
    registered, registered_pem = self_signed("portal")
    foreign, _ = self_signed("someone else")
    client_id = str(uuid.uuid4())
    d = make_entra(
        sandbox_server, apps=[{"client_id": client_id, "certificates": [registered_pem]}]
    )

    async def token_with(bundle: bytes) -> str:
        credential = CertificateCredential(
            d.tenant_id,
            client_id,
            certificate_data=bundle,
            authority=sandbox_server.url,
            disable_instance_discovery=True,
            connection_verify=str(sandbox_server.ca),
        )
        async with credential:
            return (await credential.get_token(GRAPH_SCOPE)).token

    token = asyncio.run(token_with(registered))
    response = httpx.get(
        f"{sandbox_server.url}/v1.0/users",
        verify=str(sandbox_server.ca),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    with pytest.raises(ClientAuthenticationError) as caught:
        asyncio.run(token_with(foreign))
    assert "AADSTS700027" in str(caught.value)
