"""Values Graph's OData layer reads before the directory sees the call: a `$count` that is no
Boolean, a licence id that is no GUID, and a path segment that names nothing. Each is refused
by Microsoft Graph with the OData reader's words; each test fails against a sandbox that read
`$count=yes` as absent, answered a malformed SKU id as an unknown licence, or named the
first segment of the path instead of the one not found."""

from __future__ import annotations

import pytest

from tests.sandbox.entra_support import E3, EntraDir, assert_graph_error, new_user_body

EVENTUAL = {"ConsistencyLevel": "eventual"}


@pytest.mark.parametrize("value", ["yes", "1", ""])
def test_count_takes_true_or_false_only(entra: EntraDir, value: str) -> None:
    with entra.graph() as graph:
        for headers in (EVENTUAL, {}):
            assert_graph_error(
                graph.get("/users", params={"$count": value}, headers=headers),
                400,
                "BadRequest",
                f"Invalid value '{value}' for $count query option found. "
                "Valid values are 'true, false'.",
            )
        # Either Boolean, in any case, is read as one.
        counted = graph.get("/users", params={"$count": "TRUE"}, headers=EVENTUAL)
        uncounted = graph.get("/users", params={"$count": "false"}, headers=EVENTUAL)
    assert counted.status_code == 200, counted.text
    assert counted.json()["@odata.count"] == 1
    assert uncounted.status_code == 200, uncounted.text
    assert "@odata.count" not in uncounted.json()


def _guid_error(literal: str) -> str:
    return f"Cannot convert the literal '{literal}' to the expected type 'Edm.Guid'."


def _add(sku: str, *disabled: str) -> dict:
    return {"addLicenses": [{"skuId": sku, "disabledPlans": list(disabled)}], "removeLicenses": []}


@pytest.mark.parametrize(
    "body, literal",
    [
        (_add("SPE_E3"), "SPE_E3"),
        ({"addLicenses": [], "removeLicenses": ["SPE_E3"]}, "SPE_E3"),
        (_add(E3, "EXCHANGE_S_ENTERPRISE"), "EXCHANGE_S_ENTERPRISE"),
        (_add(""), ""),
    ],
)
def test_a_licence_id_that_is_no_guid_is_refused_by_the_reader(
    entra: EntraDir, body: dict, literal: str
) -> None:
    """A part number where the SKU id goes (a GUID in user-assignlicense.md) is not an unknown
    licence: Graph cannot read it, and says so before it looks for the licence."""
    with entra.graph() as graph:
        user = graph.post(
            "/users", json=new_user_body(entra.domain, "lic", usageLocation="GB")
        ).json()["id"]
        for url in (
            f"/users/{user}/assignLicense",
            f"/groups/{entra.group_id('Staff')}/assignLicense",
        ):
            assert_graph_error(graph.post(url, json=body), 400, "BadRequest", _guid_error(literal))
        assert graph.get(f"/users/{user}/licenseDetails").json()["value"] == []


@pytest.mark.parametrize(
    "path, segment",
    [
        ("/nonsense", "nonsense"),
        ("/users/{user}/fooBar", "fooBar"),
        ("/groups/{group}/members/{user}/nonsense", "nonsense"),
        ("/servicePrincipals/{sp}/appRoleAssignedTo/x/y", "y"),
    ],
)
def test_a_path_names_the_segment_that_was_not_found(
    entra: EntraDir, path: str, segment: str
) -> None:
    """Graph names the segment it could not resolve ("Resource not found for the segment
    'manifest'", for /appCatalogs/teamsApps/{id}/appDefinitions/{id}/manifest), not the
    first one of the path."""
    user = entra.state()["users"][0]["id"]
    url = path.format(user=user, group=entra.group_id("Staff"), sp=entra.sp("Salesforce")["id"])
    with entra.graph() as graph:
        direct = graph.get(url)
        batched = graph.post(
            "/$batch", json={"requests": [{"id": "1", "method": "GET", "url": url}]}
        )
    message = f"Resource not found for the segment '{segment}'."
    assert_graph_error(direct, 400, "BadRequest", message)
    assert batched.status_code == 200, batched.text
    [answer] = batched.json()["responses"]
    assert answer["status"] == 400
    assert answer["body"]["error"]["message"] == message


@pytest.mark.parametrize("field, literal", [("appRoleId", "User"), ("resourceId", "Salesforce")])
def test_an_app_role_assignment_reads_its_ids_as_guids(
    entra: EntraDir, field: str, literal: str
) -> None:
    """principalId, resourceId and appRoleId are Guids (approleassignment.md): a role's value
    or an app's name where the id goes is refused by the reader, on either route, and nothing
    is assigned; the sandbox looked the role up ("Permission being assigned was not found")
    or answered the app's name as an object key."""
    sp = entra.sp("Salesforce")
    with entra.graph() as graph:
        user = graph.post("/users", json=new_user_body(entra.domain, "ann")).json()["id"]
        body = {"principalId": user, "resourceId": sp["id"], "appRoleId": sp["appRoles"][0]["id"]}
        body[field] = literal
        for url in (
            f"/users/{user}/appRoleAssignments",
            f"/servicePrincipals/{sp['id']}/appRoleAssignedTo",
        ):
            assert_graph_error(graph.post(url, json=body), 400, "BadRequest", _guid_error(literal))
        held = graph.get(f"/users/{user}/appRoleAssignments")
    assert held.status_code == 200, held.text
    assert held.json()["value"] == []
