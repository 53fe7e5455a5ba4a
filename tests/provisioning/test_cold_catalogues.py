"""A plan's Entra catalogues (groups, SKUs, service principals) that the worker process does
not hold yet, as at a tenant's first job in each process, are read at once: one round trip of
the directory's latency instead of one each. A warm plan reads none of them. (Okta's groups
read its apps first, so its two stay one after the other.)"""

from __future__ import annotations

import uuid

import pytest

from provisioning import services
from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.engine import planner
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db

ENTRA_CATALOGUES = {"GET /v1.0/groups", "GET /v1.0/subscribedSkus", "GET /v1.0/servicePrincipals"}


def plan_joiner(dirs, kind: str) -> planner.Plan:
    connection = dirs.tenant.connections.get(kind=kind)
    request = services.OnboardingRequest(
        "Ada", "Lovelace", [dirs.template], username=f"ada.lovelace@{dirs.tenant.primary_domain}"
    )
    desired = services.desired_for(dirs.tenant, request, request.username)
    return bridge.run(planner.plan_onboarding(connector_for(connection), connection.pk, desired))


def sent(dirs, kind: str, before: dict) -> set[str]:
    """The routes called since `before` (the sandbox's counts then)."""
    after = dirs.stats(kind)["calls"]
    return {route for route, n in after.items() if n != before.get(route, 0)}


def test_a_cold_entra_plan_reads_its_three_catalogues_at_once(on_sandbox):
    dirs = make_directories(
        on_sandbox, f"cold{uuid.uuid4().hex[:8]}", groups=["Staff", "Sales"], apps=["Salesforce"]
    )
    bridge.run(connector_for(dirs.tenant.connections.get()).domains())  # asked before, alone
    # Each request is held long enough that requests sent one after the other never overlap.
    dirs.behave("entra", latency_ms=400)
    before = dirs.stats("entra")["calls"]

    plan = plan_joiner(dirs, "entra")

    assert [s.action for s in plan.steps][0] == planner.CREATE_USER
    assert set(ENTRA_CATALOGUES) <= set(sent(dirs, "entra", before))
    assert dirs.stats("entra")["peak_in_flight"] == 3

    before = dirs.stats("entra")["calls"]
    plan_joiner(dirs, "entra")  # warm: the catalogues are held (a joiner's mail is still
    # looked up among the groups, GET /groups with a filter: not a catalogue read)
    assert not set(sent(dirs, "entra", before)) & (set(ENTRA_CATALOGUES) - {"GET /v1.0/groups"})
