"""The engine against Graph's transport as it is: throttling without Retry-After or as 503
Request_ThrottledTemporarily (pacing, never a failure), `$batch` requests run in any order,
hundreds of service principals in pages, and app roles by member type."""

from __future__ import annotations

import time
import uuid

import pytest
from msgraph.generated.models.service_principal import ServicePrincipal

from provisioning import quarantine, services
from provisioning.connectors import bridge
from provisioning.connectors.errors import NotFoundError, PermanentError, ThrottledError
from provisioning.connectors.factory import connector_for
from provisioning.models import Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import assert_entra_user_complete, onboard

DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
# Fixed role ids, to check which role the read-back shows.
SERVICE, OLD, MEMBER = (str(uuid.uuid4()) for _ in range(3))
VIEWER, ADMIN = str(uuid.uuid4()), str(uuid.uuid4())
APPS = [
    {
        "display_name": "Portal",
        "app_roles": [
            {"id": SERVICE, "value": "Service", "allowed_member_types": ["Application"]},
            {"id": OLD, "value": "Old", "is_enabled": False},
            {"id": MEMBER, "value": "Member", "allowed_member_types": ["User", "Application"]},
        ],
    },
    {
        "display_name": "Workspace",
        "app_roles": [
            {"id": VIEWER, "value": "Viewer", "display_name": "Viewer"},
            {"id": ADMIN, "value": "Admin", "display_name": "Workspace admin"},
        ],
    },
    {
        "display_name": "Daemon",
        "app_roles": [{"value": "Job", "allowed_member_types": ["Application"]}],
    },
]


def slug(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def entra(dirs):
    return connector_for(dirs.tenant.connections.get(kind="entra"))


def graph_state_of(dirs, upn: str) -> dict:
    user = dirs.entra_user(upn)
    assert user is not None, f"{upn} is not in the directory"
    return user


# -- the connector ---------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "retry_after"), [(429, False), (503, False), (503, True)], ids=str
)
def test_throttling_is_classified_as_such_with_or_without_a_delay(on_sandbox, status, retry_after):
    dirs = make_directories(on_sandbox, slug("cls"))
    user = dirs.add_entra_user(f"pat@{dirs.tenant.primary_domain}", "Pat", "Doe")
    connector = entra(dirs)
    settings = {"throttle_status": status, "throttle_retry_after": retry_after}
    dirs.behave("entra", throttle_next=1, **settings)
    with pytest.raises(ThrottledError) as direct:
        bridge.run(connector.get_user(user["id"]))
    dirs.behave("entra", throttle_next=4, **settings)  # inside a $batch: per sub-request
    with pytest.raises(ThrottledError) as batched:
        bridge.run(connector.read_state(user["id"]))
    for caught in (direct.value, batched.value):
        assert caught.status == status
        assert (caught.retry_after is not None) == retry_after
    assert bridge.run(connector.get_user(user["id"])).id == user["id"]


@pytest.mark.django_db
def test_service_principals_are_read_through_every_page(on_sandbox, monkeypatch):
    dirs = make_directories(on_sandbox, slug("pages"))
    with dirs.control() as control:
        made = control.post(
            f"/_sandbox/entra/{dirs.entra_id}/generate", json={"users": 0, "apps": 1100}
        )
        assert made.status_code == 201, made.text

    def parsed_by_the_sdk(_parse_node):
        raise AssertionError("a service principal parsed into the SDK's model (~15 ms of CPU each)")

    monkeypatch.setattr(
        ServicePrincipal, "create_from_discriminator_value", staticmethod(parsed_by_the_sdk)
    )
    apps = bridge.run(entra(dirs).apps(fresh=True))
    assert len(apps) == 1102  # Salesforce, Slack and 1100 more: two pages of 999
    by_name = {a.name: a for a in apps}
    # The generated shapes (sandbox/entra/generate.py): roles for applications only give a
    # user none; a disabled role for users is none either.
    assert by_name["gen app 1094"].detail["user_roles"] == []
    assert [r["name"] for r in by_name["gen app 1095"].detail["user_roles"]] == ["Role 2"]


@pytest.mark.django_db
def test_the_connector_chooses_the_role_by_member_type(on_sandbox):
    dirs = make_directories(on_sandbox, slug("role"), entra_extra={"service_principals": APPS})
    user = dirs.add_entra_user(f"pat@{dirs.tenant.primary_domain}", "Pat", "Doe")
    connector = entra(dirs)
    apps = {a.name: a.id for a in bridge.run(connector.apps())}
    bridge.run(connector.assign_app(user["id"], apps["Portal"]))
    bridge.run(connector.assign_app(user["id"], apps["Daemon"]))  # no user roles: default
    with pytest.raises(PermanentError, match="Viewer, Workspace admin"):
        bridge.run(connector.assign_app(user["id"], apps["Workspace"]))
    bridge.run(connector.assign_app(user["id"], apps["Workspace"], ADMIN))
    held = {
        a["app"]: a["appRoleId"]
        for a in graph_state_of(dirs, user["userPrincipalName"])["appRoleAssignments"]
    }
    assert held == {
        "Portal": MEMBER,
        "Daemon": DEFAULT_ACCESS,
        "Workspace": ADMIN,
    }


@pytest.mark.django_db
def test_a_batch_touching_one_group_twice_is_sequential_whatever_graphs_order(on_sandbox):
    dirs = make_directories(on_sandbox, slug("seq"))
    user = dirs.add_entra_user(f"pat@{dirs.tenant.primary_domain}", "Pat", "Doe")
    connector = entra(dirs)
    groups = {g.name: g.id for g in bridge.run(connector.groups())}
    staff = {"group_id": groups["Staff"]}
    for seed in range(6):  # Graph's order differs from seed to seed; dependsOn holds it
        dirs.behave("entra", batch_order_seed=seed)
        outcomes = bridge.run(
            connector.apply_many(user["id"], [("add_group", staff), ("remove_group", staff)])
        )
        assert outcomes == [None, None]
        assert graph_state_of(dirs, user["userPrincipalName"])["groups"] == []


# -- the engine ------------------------------------------------------------------------------


def converged_without_penalty(dirs, job: Job) -> None:
    job = wait_for_job(job.pk, timeout=180)
    assert job.status == Job.Status.SUCCEEDED, (
        job.error,
        list(job.steps.values("action", "last_error")),
    )
    assert job.options.get("plan_failures", 0) == 0  # no plan try spent on throttling
    assert set(job.steps.values_list("attempts", flat=True)) == {1}  # nor a step attempt
    connection = dirs.tenant.connections.get(kind="entra")
    assert connection.quarantined_at is None
    assert quarantine.failure_share(connection)[0] == 0
    assert_entra_user_complete(dirs, f"ada.lovelace@{dirs.tenant.primary_domain}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status", [429, 503])
def test_throttling_without_a_delay_converges_with_nothing_spent(on_sandbox, worker, status):
    dirs = make_directories(on_sandbox, slug(f"t{status}"))
    # Every call refused until 5 have been: consecutive throttles, none with a delay. (The
    # back-off doubles each time: five cost about 35 s at most, more grow towards a minute.)
    dirs.behave("entra", throttle_next=5, throttle_status=status, throttle_retry_after=False)
    started = time.monotonic()
    converged_without_penalty(dirs, onboard(dirs))
    stats = dirs.stats("entra")
    assert stats["statuses"].get(str(status), 0) >= 5
    # Backed off, not a retry every second: at least the 1 s floor per throttled round.
    assert time.monotonic() - started >= 2.0


@pytest.mark.django_db(transaction=True)
def test_a_joiner_gets_the_app_role_for_users(on_sandbox, worker):
    dirs = make_directories(
        on_sandbox,
        slug("roles"),
        entra_extra={"service_principals": APPS},
        apps=["Portal", "Daemon"],
    )
    job = wait_for_job(onboard(dirs).pk, timeout=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
    user = graph_state_of(dirs, f"ada.lovelace@{dirs.tenant.primary_domain}")
    held = {a["app"]: a["appRoleId"] for a in user["appRoleAssignments"]}
    assert held["Portal"] == MEMBER  # not the role for applications, not the disabled one
    assert held["Daemon"] == DEFAULT_ACCESS


@pytest.mark.django_db(transaction=True)
def test_an_app_with_several_roles_for_users_needs_one_named(on_sandbox, worker):
    dirs = make_directories(
        on_sandbox, slug("named"), entra_extra={"service_principals": APPS}, apps=["Workspace"]
    )
    request = services.OnboardingRequest("Ada", "Lovelace", [dirs.template])
    [problem] = services.preview_onboarding(dirs.tenant, request).blocking_problems
    assert problem.kind == "app_role" and "Workspace / Viewer" in problem.message
    assert problem.alternatives == ("Viewer", "Workspace admin")
    dirs.template.apps = ["Workspace / Workspace admin"]
    dirs.template.save()
    job = wait_for_job(onboard(dirs).pk, timeout=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
    user = graph_state_of(dirs, f"ada.lovelace@{dirs.tenant.primary_domain}")
    assert [(a["app"], a["appRoleId"]) for a in user["appRoleAssignments"]] == [
        ("Workspace", ADMIN)
    ]


@pytest.mark.django_db
def test_a_throttled_probe_neither_releases_nor_fails(on_sandbox, settings):
    settings.QUARANTINE_COOLDOWN_SECONDS = 0
    dirs = make_directories(on_sandbox, slug("probe"))
    connection = dirs.tenant.connections.get(kind="entra")
    for _ in range(quarantine.MIN_CALLS):
        quarantine.record_outcome(connection, ok=False, reason="down")
    connection.refresh_from_db()
    assert connection.quarantined_at is not None
    dirs.behave("entra", throttle_next=1, throttle_retry_after=False)
    assert quarantine.probe_due_connections() == {"released": 0, "failed": 0}
    assert connection.breaker.probe_failures == 0  # no longer cool-down for being paced
    assert quarantine.probe_due_connections() == {"released": 1, "failed": 0}


@pytest.mark.django_db
def test_an_add_to_a_deleted_group_is_told_from_a_missing_user(on_sandbox):
    """Graph answers an add to a group that is gone, and an add of a user that is gone, with
    the same 404 "Resource '<id>' does not exist or one of its queried reference-property
    objects are not present." (microsoft-graph-docs-contrib#5090, #4847), naming its id: the
    connector says which it was, alone and in a `$batch`, so the step can name the group
    (engine/steps.py `_group_named`), as Okta's does."""
    dirs = make_directories(on_sandbox, slug("gone"))
    user = dirs.add_entra_user(f"pat@{dirs.tenant.primary_domain}", "Pat", "Doe")
    connector = entra(dirs)
    groups = {g.name: g.id for g in bridge.run(connector.groups())}
    assert dirs.graph("DELETE", f"/groups/{groups['Sales']}").status_code == 204
    stranger = str(uuid.uuid4())

    with pytest.raises(NotFoundError) as alone:
        bridge.run(connector.add_to_group(user["id"], groups["Sales"]))
    with pytest.raises(NotFoundError) as no_user:
        bridge.run(connector.add_to_group(stranger, groups["Staff"]))
    batched = bridge.run(
        connector.apply_many(
            user["id"],
            [
                ("add_group", {"group_id": groups["Sales"]}),
                ("add_group", {"group_id": groups["Staff"]}),
            ],
        )
    )

    assert alone.value.group_gone and not no_user.value.group_gone
    assert isinstance(batched[0], NotFoundError) and batched[0].group_gone
    assert batched[1] is None
