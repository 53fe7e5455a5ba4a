"""assignLicense takes its two parameters and no other (strict11). Sources in
docs/sandbox-fidelity.md ("strict11") and beside `require_both` in
sandbox/entra/group_licences.py."""

from __future__ import annotations

import pytest

from tests.sandbox.entra_support import EntraDir, assert_graph_error, new_user_body

SPE_E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"


def not_a_parameter(name: str) -> str:
    return (
        f"The parameter '{name}' in the request payload is not a valid parameter for the "
        "operation 'assignLicense'."
    )


@pytest.mark.parametrize(
    "extra",
    [
        {"disabledPlans": []},  # belongs inside an assignedLicense, not beside the lists
        {"addLicences": []},  # the British spelling
        {"userId": "x"},
    ],
)
def test_a_parameter_assign_license_does_not_have_is_400_and_assigns_nothing(
    entra: EntraDir, extra: dict
) -> None:
    """user-assignlicense.md and group-assignlicense.md name two parameters, addLicenses and
    removeLicenses. Graph reads an action's body as OData action parameters: the text it gives
    for a missing one ("One or more parameters of the operation 'assignLicense' are missing
    from the request payload ...", pinned in test_entra_request_rules.py) is the OData
    parameter reader's, and the same reader refuses a name the operation does not declare
    with "The parameter '<p>' in the request payload is not a valid parameter for the
    operation '<op>'.". The sandbox ignored the extra name and assigned the licence, so a
    misplaced `disabledPlans` passed here and failed at Graph."""
    with entra.graph() as graph:
        user = graph.post(
            "/users", json=new_user_body(entra.domain, "lic", usageLocation="GB")
        ).json()
        body = {"addLicenses": [{"skuId": SPE_E3, "disabledPlans": []}], "removeLicenses": []}
        refused = graph.post(f"/users/{user['id']}/assignLicense", json={**body, **extra})
        assert_graph_error(refused, 400, "Request_BadRequest", not_a_parameter(next(iter(extra))))
        held = graph.get(f"/users/{user['id']}", params={"$select": "assignedLicenses"})
        assert held.json()["assignedLicenses"] == []

        group = entra.group_id("Finance")
        on_group = graph.post(f"/groups/{group}/assignLicense", json={**body, **extra})
        assert_graph_error(on_group, 400, "Request_BadRequest", not_a_parameter(next(iter(extra))))


def test_the_two_parameters_alone_are_taken(entra: EntraDir) -> None:
    with entra.graph() as graph:
        user = graph.post(
            "/users", json=new_user_body(entra.domain, "lic2", usageLocation="GB")
        ).json()
        body = {"addLicenses": [{"skuId": SPE_E3, "disabledPlans": []}], "removeLicenses": []}
        taken = graph.post(f"/users/{user['id']}/assignLicense", json=body)
        assert taken.status_code == 200, taken.text
        held = graph.get(f"/users/{user['id']}", params={"$select": "assignedLicenses"})
        assert [lic["skuId"] for lic in held.json()["assignedLicenses"]] == [SPE_E3]
