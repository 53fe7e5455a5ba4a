"""`read_state`: one read of a user and its access, counted in HTTP requests at the sandbox.

Entra reads the user, memberOf, licenseDetails and appRoleAssignments in one `$batch`, and
another `$batch` per further page; Okta sends its three reads at once.
"""

from __future__ import annotations

import uuid

import pytest

from provisioning.connectors import bridge
from provisioning.connectors.base import AccessState, NewUser
from provisioning.connectors.entra import EntraConnector
from provisioning.connectors.errors import NotFoundError, ReplicationLagError, ThrottledError
from provisioning.connectors.factory import connector_for
from tenants.models import DirectoryConnection, Tenant
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db

BATCH = "POST /v1.0/$batch"
USER_READS = {
    "GET /v1.0/users/{id}": 1,
    "GET /v1.0/users/{id}/memberOf": 1,
    "GET /v1.0/users/{id}/licenseDetails": 1,
    "GET /v1.0/users/{id}/appRoleAssignments": 1,
    "GET /v1.0/roleManagement/directory/roleAssignments": 1,
    "GET /v1.0/roleManagement/directory/roleEligibilityScheduleInstances": 1,
}


@pytest.fixture
def dirs(on_sandbox):
    return make_directories(on_sandbox, f"rs{uuid.uuid4().hex[:10]}", kinds=("entra", "okta"))


def connector(dirs, kind: str):
    return connector_for(dirs.tenant.connections.get(kind=kind))


def new_user(dirs, name: str, **attributes) -> NewUser:
    return NewUser(
        username=f"{name}@{dirs.tenant.primary_domain}",
        first_name=name.title(),
        last_name="Reader",
        display_name=f"{name.title()} Reader",
        email=f"{name}@{dirs.tenant.primary_domain}",
        password="Read-State-Pa55!",
        attributes=attributes,
    )


def named(resources, *names: str) -> frozenset[str]:
    return frozenset(r.id for r in resources if r.name in names)


def counted(stats, read):
    """What `read()` returned, and what it sent by the sandbox's `stats()`."""
    before = stats()
    result = bridge.run(read())
    after = stats()
    calls = {
        route: n - before["calls"].get(route, 0)
        for route, n in after["calls"].items()
        if n != before["calls"].get(route, 0)
    }
    return result, {
        "http_requests": after["http_requests"] - before["http_requests"],
        "calls": calls,
        "throttled": after["throttled"] - before["throttled"],
    }


def failure(read) -> Exception:
    with pytest.raises(Exception) as caught:
        bridge.run(read())
    return caught.value


# -- Entra ----------------------------------------------------------------------------------


def test_entra_reads_user_and_access_in_one_request_as_the_separate_reads_do(dirs):
    entra = connector(dirs, "entra")
    user = bridge.run(
        entra.create_user(new_user(dirs, "ada", department="Sales", usage_location="GB"))
    )
    groups = named(bridge.run(entra.groups()), "Staff", "Sales")
    by_rule = named(bridge.run(entra.groups()), "Sales (dynamic)")  # department Sales
    app = named(bridge.run(entra.apps()), "Salesforce")
    sku = named(bridge.run(entra.licenses()), "SPE_E3")
    ops = [("add_group", {"group_id": g}) for g in groups]
    ops += [
        ("assign_license", {"sku_id": next(iter(sku))}),
        ("assign_app", {"app_id": next(iter(app))}),
    ]
    assert bridge.run(entra.apply_many(user.id, ops)) == [None] * len(ops)

    (held_user, access), sent = counted(
        lambda: dirs.stats("entra"), lambda: entra.read_state(user.id)
    )

    assert sent == {"http_requests": 1, "calls": {BATCH: 1, **USER_READS}, "throttled": 0}
    assert access == AccessState(groups=groups | by_rule, apps=app, licenses=sku)
    assert held_user == bridge.run(entra.get_user(user.id))
    assert access == bridge.run(entra.access_of(user.id))
    assert (held_user.username, held_user.enabled) == (user.username, True)
    assert held_user.attributes["department"] == "Sales"


def test_entra_follows_full_pages_with_one_more_request_for_all_of_them(on_sandbox):
    tenant_id, domain = str(uuid.uuid4()), f"p{uuid.uuid4().hex[:8]}.example"
    upn = f"many@{domain}"
    body = {
        "tenant_id": tenant_id,
        "domains": [domain],
        "apps": [{"client_id": str(uuid.uuid4()), "client_secret": "paging-secret"}],
        "skus": [{"sku_part_number": "SPE_E3", "seats": 5}],
        # memberOf is read 999 a page, appRoleAssignments 100 a page: one over each.
        "groups": [{"display_name": f"Group {n}", "members": [upn]} for n in range(1000)],
        "service_principals": [{"display_name": f"App {n}"} for n in range(101)],
        "users": [
            {
                "userPrincipalName": upn,
                "licenses": ["SPE_E3"],
                "apps": [f"App {n}" for n in range(101)],
            }
        ],
    }
    with on_sandbox.control() as control:
        created = control.post("/_sandbox/entra/tenants", json=body)
        assert created.status_code == 201, created.text
    tenant = Tenant.objects.create(name="Paging", slug=f"pg{tenant_id[:8]}", primary_domain=domain)
    connection = DirectoryConnection(
        tenant=tenant,
        kind="entra",
        directory_id=tenant_id,
        client_id=body["apps"][0]["client_id"],
        login_base_url=on_sandbox.url,
        graph_base_url=on_sandbox.url,
    )
    connection.set_secret("paging-secret")
    connection.save()
    entra = connector_for(connection)
    user = bridge.run(entra.get_user(upn))

    def stats() -> dict:
        with on_sandbox.control() as control:
            return control.get(f"/_sandbox/entra/{tenant_id}/stats").raise_for_status().json()

    (_, access), sent = counted(stats, lambda: entra.read_state(user.id))

    state = created.json()
    assert access.groups == frozenset(g["id"] for g in state["groups"])
    assert access.apps == frozenset(sp["id"] for sp in state["service_principals"])
    assert len(access.licenses) == 1
    assert sent["http_requests"] == 2
    assert sent["calls"][BATCH] == 2
    assert sent["calls"]["GET /v1.0/users/{id}/memberOf"] == 2
    assert sent["calls"]["GET /v1.0/users/{id}/appRoleAssignments"] == 2
    assert sent["calls"]["GET /v1.0/users/{id}/licenseDetails"] == 1
    # What the person page and a join that links the account read: every page too.
    assert bridge.run(entra.access_of(user.id)) == access
    # An assignment listed on the second page is found, and removed, by an unassign.
    graph_user = entra._graph().users.by_user_id(user.id)
    first_page = bridge.run(graph_user.app_role_assignments.get())
    [later] = access.apps - {str(a.resource_id) for a in first_page.value}
    bridge.run(entra.unassign_app(user.id, later))
    assert bridge.run(entra.access_of(user.id)).apps == access.apps - {later}


def test_entra_unknown_id_is_not_found_in_one_request(dirs):
    entra = connector(dirs, "entra")
    bridge.run(entra.probe())  # the token, fetched before counting
    before = dirs.stats("entra")["http_requests"]
    error = failure(lambda: entra.read_state(str(uuid.uuid4())))
    assert type(error) is NotFoundError and error.status == 404
    assert dirs.stats("entra")["http_requests"] - before == 1


def test_entra_user_created_moments_ago_and_not_replicated_is_lag_not_gone(dirs):
    dirs.behave("entra", replication_lag_ms=120_000)
    entra = connector(dirs, "entra")
    user = bridge.run(entra.create_user(new_user(dirs, "newcomer")))

    error = failure(lambda: entra.read_state(user.id))
    assert type(error) is ReplicationLagError
    assert (error.status, error.retry_after) == (404, 1)

    # Another process's connector has not created it: the same answer means "not found"
    # until it is told the id is new (as the engine does from the account row).
    connection = dirs.tenant.connections.get(kind="entra")
    other = EntraConnector(
        tenant_id=connection.directory_id,
        client_id=connection.client_id,
        secret=connection.get_secret(),
        login_url=connection.login_base_url,
        graph_url=connection.graph_base_url,
    )
    try:
        assert type(failure(lambda: other.read_state(user.id))) is NotFoundError
        other.note_created(user.id, seconds_ago=2)
        assert type(failure(lambda: other.read_state(user.id))) is ReplicationLagError
    finally:
        bridge.run(other.close())


def test_entra_throttled_sub_requests_are_throttled_with_their_retry_after(dirs):
    entra = connector(dirs, "entra")
    user = bridge.run(entra.create_user(new_user(dirs, "busy", usage_location="GB")))
    dirs.behave("entra", rate_per_s=0.1, burst=2)  # two of the six reads get through

    before = dirs.stats("entra")
    error = failure(lambda: entra.read_state(user.id))
    after = dirs.stats("entra")

    assert type(error) is ThrottledError
    assert error.status == 429 and error.retry_after >= 1
    assert after["throttled"] - before["throttled"] == 4
    assert after["http_requests"] - before["http_requests"] == 1
    dirs.behave("entra", rate_per_s=None)
    held_user, _ = bridge.run(entra.read_state(user.id))
    assert held_user.id == user.id


# -- Okta -----------------------------------------------------------------------------------

OKTA_READS = {
    "GET /api/v1/users/{id}": 1,
    "GET /api/v1/users/{id}/groups": 1,
    "GET /api/v1/users/{id}/appLinks": 1,
}


def reset_stats(dirs, kind: str) -> None:
    ident = dirs.entra_id if kind == "entra" else dirs.okta_id
    with dirs.control() as control:
        control.delete(f"/_sandbox/{kind}/{ident}/stats").raise_for_status()


def test_okta_reads_user_and_access_with_three_requests_at_once(dirs):
    okta = connector(dirs, "okta")
    user = bridge.run(okta.create_user(new_user(dirs, "grace", department="Sales")))
    groups = named(bridge.run(okta.groups()), "Staff", "Sales")
    app = named(bridge.run(okta.apps()), "Salesforce")
    for group in groups:
        bridge.run(okta.add_to_group(user.id, group))
    bridge.run(okta.assign_app(user.id, next(iter(app))))
    reset_stats(dirs, "okta")
    # Each request is held long enough that sequential requests could never overlap.
    dirs.behave("okta", latency_ms=500)

    (held_user, access), sent = counted(
        lambda: dirs.stats("okta"), lambda: okta.read_state(user.id)
    )

    assert sent == {"http_requests": 3, "calls": OKTA_READS, "throttled": 0}
    assert dirs.stats("okta")["peak_in_flight"] == 3
    assert groups <= access.groups  # and Everyone, Okta's built-in group
    assert access.apps == app and access.licenses == frozenset()
    dirs.behave("okta", latency_ms=0)
    assert held_user == bridge.run(okta.get_user(user.id))
    assert access == bridge.run(okta.access_of(user.id))
    assert held_user.attributes["department"] == "Sales"


def test_okta_unknown_id_is_not_found(dirs):
    error = failure(lambda: connector(dirs, "okta").read_state("00u" + uuid.uuid4().hex[:17]))
    assert type(error) is NotFoundError and error.status == 404


def test_okta_throttled_reads_are_throttled(dirs):
    okta = connector(dirs, "okta")
    user = bridge.run(okta.create_user(new_user(dirs, "hopper")))
    dirs.behave("okta", rate_per_s=0.1, burst=1)  # one of the three gets through

    before = dirs.stats("okta")["throttled"]
    error = failure(lambda: okta.read_state(user.id))

    assert type(error) is ThrottledError
    assert error.status == 429 and error.retry_after >= 1
    assert dirs.stats("okta")["throttled"] - before == 2


def test_entra_removes_the_app_assignments_it_read_in_the_batch_or_lists_them_unnamed(dirs):
    """An app removal naming the assignments read (a leave's plan) is their DELETEs in the
    `$batch`; one naming none (planned before they were named) lists them itself. Both leave
    the user without the app; one already gone counts as done."""
    entra = connector(dirs, "entra")
    app = next(iter(named(bridge.run(entra.apps()), "Salesforce")))
    users = [bridge.run(entra.create_user(new_user(dirs, name))) for name in ("una", "dos")]
    for user in users:
        assert bridge.run(entra.apply_many(user.id, [("assign_app", {"app_id": app})])) == [None]
    _, access = bridge.run(entra.read_state(users[0].id))
    assert access.apps == {app} and [a for a, _ in access.app_assignments] == [app]
    named_ops = [
        ("unassign_app", {"app_id": app, "assignment_ids": [access.app_assignments[0][1]]})
    ]

    removed, sent = counted(
        lambda: dirs.stats("entra"), lambda: entra.apply_many(users[0].id, named_ops)
    )

    assert removed == [None]
    assert sent["http_requests"] == 1
    assert sent["calls"] == {BATCH: 1, "DELETE /v1.0/users/{id}/appRoleAssignments/{assignment}": 1}
    assert bridge.run(entra.apply_many(users[0].id, named_ops)) == [None]  # gone already
    unnamed = [("unassign_app", {"app_id": app})]
    assert bridge.run(entra.apply_many(users[1].id, unnamed)) == [None]
    for user in users:
        assert not bridge.run(entra.read_state(user.id))[1].apps
