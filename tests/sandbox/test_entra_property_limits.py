"""A user's string properties within Graph's published bounds: the maximum length of each
(api-reference/v1.0/resources/user.md, "Maximum length is N characters"; employeeId in
user-update.md), no accented characters in `mail`, and a userPrincipalName within Entra's
username policy. A value outside them is a 400 on create and on update, and nothing is
written; through the real msgraph-sdk too."""

from __future__ import annotations

import uuid

import pytest
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

LIMITS = {
    "displayName": 256,
    "givenName": 64,
    "surname": 64,
    "department": 64,
    "jobTitle": 128,
    "officeLocation": 128,
    "companyName": 64,
    "mobilePhone": 64,
    "city": 128,
    "state": 128,
    "country": 128,
    "streetAddress": 1024,
    "employeeId": 16,
}


def invalid(prop: str) -> str:
    return f"Invalid value specified for property '{prop}' of resource 'User'."


@pytest.mark.parametrize(("prop", "limit"), sorted(LIMITS.items()))
def test_a_value_over_its_maximum_length_is_refused(entra: EntraDir, prop: str, limit: int) -> None:
    with entra.graph() as graph:
        too_long = graph.post(
            "/users", json=new_user_body(entra.domain, "over", **{prop: "a" * (limit + 1)})
        )
        assert_graph_error(too_long, 400, "Request_BadRequest", invalid(prop))
        assert graph.get(f"/users/over@{entra.domain}").status_code == 404

        made = graph.post("/users", json=new_user_body(entra.domain, "edge", **{prop: "a" * limit}))
        assert made.status_code == 201, made.text
        user = f"/users/{made.json()['id']}"
        patched = graph.patch(user, json={prop: "b" * (limit + 1)})
        assert_graph_error(patched, 400, "Request_BadRequest", invalid(prop))
        assert graph.get(user, params={"$select": prop}).json()[prop] == "a" * limit


def test_the_sdk_sees_a_too_long_department_as_a_400(entra: EntraDir) -> None:
    async def work(client):
        body = User(
            account_enabled=True,
            display_name="Long Dept",
            mail_nickname="longdept",
            user_principal_name=f"longdept@{entra.domain}",
            password_profile=PasswordProfile(password="Sandb0x!pass"),
            department="Research and Development, Advanced Materials and Manufacturing Lab",
        )
        with pytest.raises(ODataError) as caught:
            await client.users.post(body)
        return caught.value

    error = run_sdk(entra, work)
    assert (error.response_status_code, error.error.code) == (400, "Request_BadRequest")
    assert error.error.message == invalid("department")


def test_mail_with_accented_characters_is_refused(entra: EntraDir) -> None:
    with entra.graph() as graph:
        accented = graph.post(
            "/users", json=new_user_body(entra.domain, "jose", mail=f"josé@{entra.domain}")
        )
        assert_graph_error(accented, 400, "Request_BadRequest", invalid("mail"))
        made = graph.post("/users", json=new_user_body(entra.domain, "jose"))
        assert made.status_code == 201, made.text
        patched = graph.patch(f"/users/{made.json()['id']}", json={"mail": f"zoë@{entra.domain}"})
        assert_graph_error(patched, 400, "Request_BadRequest", invalid("mail"))
        plain = graph.patch(f"/users/{made.json()['id']}", json={"mail": f"jose@{entra.domain}"})
        assert plain.status_code == 204, plain.text


def test_other_mails_with_accented_characters_are_refused(entra: EntraDir) -> None:
    """user.md, otherMails: "NOTE: This property can't contain accent characters." (as for
    mail; microsoftgraph/microsoft-graph-docs#13477 shows Graph's 400 "Invalid value
    specified for property 'mail' of resource 'User'." for an accented mail and names
    otherMails with it). On create and update, nothing written; the sandbox took them."""
    with entra.graph() as graph:
        body = new_user_body(entra.domain, "renee", otherMails=["renée@fabrikam.example"])
        assert_graph_error(graph.post("/users", json=body), 400, "Request_BadRequest")
        assert graph.post("/users", json=body).json()["error"]["message"] == invalid("otherMails")
        made = graph.post("/users", json=new_user_body(entra.domain, "renee"))
        assert made.status_code == 201, made.text
        user = f"/users/{made.json()['id']}"
        mixed = ["renee@fabrikam.example", "zoë@fabrikam.example"]
        assert_graph_error(
            graph.patch(user, json={"otherMails": mixed}),
            400,
            "Request_BadRequest",
            invalid("otherMails"),
        )
        assert not graph.get(f"{user}?$select=otherMails").json()["otherMails"]
        plain = graph.patch(user, json={"otherMails": ["renee@fabrikam.example"]})
        assert plain.status_code == 204, plain.text


@pytest.mark.parametrize(
    "other_mails",
    [
        [f"alias{n}@fabrikam.example" for n in range(251)],
        ["a" * 234 + "@fabrikam.example"],
    ],
    ids=["251 values", "251 characters"],
)
def test_other_mails_over_250_values_or_250_characters_are_refused(
    entra: EntraDir, other_mails: list[str]
) -> None:
    """user.md, otherMails: "Can store up to 250 values, each with a limit of 250
    characters." A 251st value, or a value of 251 characters, is 400 on create and update,
    nothing written; 250 of each are taken. The sandbox took any number of any length."""
    with entra.graph() as graph:
        body = new_user_body(entra.domain, "many", otherMails=other_mails)
        assert_graph_error(graph.post("/users", json=body), 400, "Request_BadRequest")
        assert graph.post("/users", json=body).json()["error"]["message"] == invalid("otherMails")
        assert graph.get(f"/users/many@{entra.domain}").status_code == 404
        at_bound = [f"alias{n}@fabrikam.example" for n in range(249)] + [
            "a" * 233 + "@fabrikam.example"
        ]
        made = graph.post("/users", json=new_user_body(entra.domain, "edge", otherMails=at_bound))
        assert made.status_code == 201, made.text
        user = f"/users/{made.json()['id']}"
        assert_graph_error(
            graph.patch(user, json={"otherMails": other_mails}),
            400,
            "Request_BadRequest",
            invalid("otherMails"),
        )
        assert graph.get(f"{user}?$select=otherMails").json()["otherMails"] == at_bound


@pytest.mark.parametrize("local", ["jr.", "ada+test", "tom&jerry", "a$b", "x/y", "p%q", "a=b"])
def test_a_upn_outside_entras_username_policy_is_refused(entra: EntraDir, local: str) -> None:
    """Entra's UPN policy: A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @, no period just before
    it, at most 64 characters there."""
    with entra.graph() as graph:
        upn = f"{local}@{entra.domain}"
        body = new_user_body(entra.domain, "policy", userPrincipalName=upn)
        assert_graph_error(
            graph.post("/users", json=body), 400, "Request_BadRequest", invalid("userPrincipalName")
        )
        made = graph.post("/users", json=new_user_body(entra.domain, "policy"))
        assert made.status_code == 201, made.text
        renamed = graph.patch(f"/users/{made.json()['id']}", json={"userPrincipalName": upn})
        assert_graph_error(renamed, 400, "Request_BadRequest", invalid("userPrincipalName"))


def test_every_character_the_upn_policy_allows_is_taken(entra: EntraDir) -> None:
    with entra.graph() as graph:
        upn = f"o'neil.x-y_z!#^~9@{entra.domain}"
        body = new_user_body(entra.domain, "oneil", userPrincipalName=upn)
        made = graph.post("/users", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["userPrincipalName"] == upn


def test_a_upn_over_48_characters_after_the_at_is_refused(sandbox_server: SandboxServer) -> None:
    """Entra's UPN policy: at most 48 characters after the @, 113 in all (64 + 1 + 48)."""
    tenant_id, client_id = str(uuid.uuid4()), str(uuid.uuid4())
    domain = f"t{tenant_id[:8]}.example"
    at_bound = f"{'d' * (47 - len(domain))}.{domain}"
    over = f"e{at_bound}"
    assert (len(at_bound), len(over)) == (48, 49)
    with sandbox_server.control() as control:
        body = tenant_body(tenant_id, domain, client_id, domains=[domain, at_bound, over])
        response = control.post("/_sandbox/entra/tenants", json=body)
        assert response.status_code == 201, response.text
    entra = EntraDir(sandbox_server, tenant_id, domain, client_id, "right-secret", response.json())
    with entra.graph() as graph:
        body = new_user_body(entra.domain, "long", userPrincipalName=f"long@{over}")
        assert_graph_error(
            graph.post("/users", json=body), 400, "Request_BadRequest", invalid("userPrincipalName")
        )
        longest = f"{'a' * 64}@{at_bound}"
        made = graph.post(
            "/users", json=new_user_body(entra.domain, "long", userPrincipalName=longest)
        )
        assert made.status_code == 201, made.text
        assert len(made.json()["userPrincipalName"]) == 113
        renamed = graph.patch(
            f"/users/{made.json()['id']}", json={"userPrincipalName": f"a@{over}"}
        )
        assert_graph_error(renamed, 400, "Request_BadRequest", invalid("userPrincipalName"))


@pytest.mark.parametrize("code", ["UK", "EU", "XX", "ZZ"])
def test_a_usage_location_that_is_no_iso_3166_country_is_refused(
    entra: EntraDir, code: str
) -> None:
    """usageLocation is "A two-letter country code (ISO standard 3166)" (user.md): two
    capitals that name no country (the United Kingdom is GB, not UK) are refused like any
    invalid value, on create and on update, and the one held stays."""
    with entra.graph() as graph:
        made = graph.post("/users", json=new_user_body(entra.domain, "ana", usageLocation="GB"))
        assert made.status_code == 201, made.text
        user_id = made.json()["id"]
        patched = graph.patch(f"/users/{user_id}", json={"usageLocation": code})
        assert_graph_error(patched, 400, "Request_BadRequest", invalid("usageLocation"))
        created = graph.post("/users", json=new_user_body(entra.domain, "bo", usageLocation=code))
        assert_graph_error(created, 400, "Request_BadRequest", invalid("usageLocation"))
        held = graph.get(f"/users/{user_id}", params={"$select": "usageLocation"})
        assert held.json()["usageLocation"] == "GB"
        assert graph.patch(f"/users/{user_id}", json={"usageLocation": "IE"}).status_code == 204


@pytest.mark.parametrize("password", ["Passwörd123", "Password€12", "Pass\tword12", "Pässwort12!"])
def test_a_password_with_characters_entra_does_not_allow_is_refused(
    entra: EntraDir, password: str
) -> None:
    """Entra's cloud password policy allows A-Z, a-z, 0-9, the listed ASCII symbols and the
    blank space, and no Unicode characters: an ö or € is no symbol that makes up the three
    kinds of characters, it is refused, on create and on a reset."""
    with entra.graph() as graph:
        body = new_user_body(entra.domain, "pw", passwordProfile={"password": password})
        refused = graph.post("/users", json=body)
        assert_graph_error(refused, 400, "Request_BadRequest", "password complexity")
        made = graph.post("/users", json=new_user_body(entra.domain, "pw"))
        assert made.status_code == 201, made.text
        reset = graph.patch(
            f"/users/{made.json()['id']}", json={"passwordProfile": {"password": password}}
        )
        assert_graph_error(reset, 400, "Request_BadRequest", "password complexity")
        spaced = {"passwordProfile": {"password": "correct horse 9 Battery"}}
        assert graph.patch(f"/users/{made.json()['id']}", json=spaced).status_code == 204


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("businessPhones", ["+1 555 0100", "+1 555 0101"]),  # "only one number can be set"
        ("businessPhones", [5550100]),
        ("otherMails", [42]),
        ("passwordPolicies", "NeverExpire"),
        ("passwordPolicies", "DisablePasswordExpiration; DisableStrongPassword"),
        ("passwordProfile", {"password": "Sandb0x!pass2", "forceChangePasswordNextSignIn": "no"}),
        ("passwordProfile", {"password": "Sandb0x!pass2", "forceChangeNextSignIn": True}),
    ],
)
def test_values_of_the_wrong_shape_are_refused(entra: EntraDir, prop: str, value) -> None:
    """user.md: businessPhones holds one number, passwordPolicies is an enumeration, a
    passwordProfile holds the password and booleans; the sandbox took any list, any string
    and any profile (reading "no" as true)."""
    with entra.graph() as graph:
        body = new_user_body(entra.domain, "shape", **{prop: value})
        assert_graph_error(graph.post("/users", json=body), 400, "Request_BadRequest", prop)
        assert graph.get(f"/users/shape@{entra.domain}").status_code == 404
        made = graph.post("/users", json=new_user_body(entra.domain, "kept"))
        user = f"/users/{made.json()['id']}"
        assert_graph_error(graph.patch(user, json={prop: value}), 400, "Request_BadRequest", prop)
        kept = graph.get(user, params={"$select": "businessPhones,passwordPolicies"}).json()
        assert (kept["businessPhones"], kept["passwordPolicies"]) == ([], None)


def test_the_values_graph_documents_are_taken(entra: EntraDir) -> None:
    with entra.graph() as graph:
        made = graph.post("/users", json=new_user_body(entra.domain, "shaped"))
        user = f"/users/{made.json()['id']}"
        for policies in (
            "DisablePasswordExpiration",
            "DisableStrongPassword",
            "DisablePasswordExpiration, DisableStrongPassword",
            "None",
        ):
            assert graph.patch(user, json={"passwordPolicies": policies}).status_code == 204
        assert graph.patch(user, json={"businessPhones": ["+1 555 0100"]}).status_code == 204
        profile = {"password": "Sandb0x!pass2", "forceChangePasswordNextSignIn": False}
        assert graph.patch(user, json={"passwordProfile": profile}).status_code == 204
        read = graph.get(user, params={"$select": "businessPhones,passwordPolicies"}).json()
        assert read["businessPhones"] == ["+1 555 0100"]
        assert read["passwordPolicies"] == "None"
