"""Directory roles and administrative units end to end: a leaver loses their admin roles
(active and PIM-eligible) and administrative units as steps of their own, verified by
reading back; a password reset the app has no directory role for fails with words that say
what to change; a mover keeps their roles. Services, a real worker, the real SDK, the sandbox.
"""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from provisioning.connectors import bridge
from provisioning.connectors.base import HeldRole
from provisioning.connectors.errors import PermissionDeniedError
from provisioning.connectors.factory import connector_for
from provisioning.engine import planner
from provisioning.engine.desired import DesiredState, desired_for
from provisioning.engine.offboarding import removed_by_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Identity, Job, Step
from tenants.models import DirectoryConnection, Tenant
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import entra_connection, make_directories

pytestmark = pytest.mark.django_db(transaction=True)

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"


def admin_person(dirs, name: str) -> tuple[Identity, str]:
    """An existing account (made behind the portal's back) that is an active User
    Administrator, an eligible Global Administrator and in the Paris administrative unit."""
    upn = f"{name}@{dirs.tenant.primary_domain}"
    user_id = dirs.add_entra_user(upn, name.title(), "Admin")["id"]
    assigned = dirs.graph(
        "POST",
        "/roleManagement/directory/roleAssignments",
        {"principalId": user_id, "roleDefinitionId": USER_ADMIN, "directoryScopeId": "/"},
    )
    assert assigned.status_code == 201, assigned.text
    eligible = dirs.graph(
        "POST",
        "/roleManagement/directory/roleEligibilityScheduleRequests",
        {
            "action": "adminAssign",
            "principalId": user_id,
            "roleDefinitionId": GLOBAL_ADMIN,
            "directoryScopeId": "/",
        },
    )
    assert eligible.status_code == 201, eligible.text
    unit = dirs.graph("POST", "/directory/administrativeUnits", {"displayName": "Paris"}).json()
    joined = dirs.graph(
        "POST",
        f"/directory/administrativeUnits/{unit['id']}/members/$ref",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user_id}"},
    )
    assert joined.status_code == 204, joined.text
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name=name.title(),
        last_name="Admin",
        display_name=f"{name.title()} Admin",
        username=upn,
        email=upn,
        status=Identity.Status.ACTIVE,
    )
    return identity, upn


def held_by(state: dict, upn: str) -> dict:
    return {
        "active": [a["role"] for a in state["roleAssignments"] if a["principal"] == upn],
        "eligible": [a["role"] for a in state["roleEligibilities"] if a["principal"] == upn],
        "units": [u["displayName"] for u in state["administrativeUnits"] if upn in u["members"]],
    }


def offboard(identity: Identity, **options) -> Job:
    chosen = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    for name, value in options.items():
        setattr(chosen, name, value)
    job = lifecycle.request_offboarding(identity, chosen, actor="system")
    return wait_for_job(job.pk)


def admin_without_role_permissions(
    on_sandbox, name: str, user: dict, **roles
) -> tuple[DirectoryConnection, str]:
    """A sandbox tenant whose one user (`user`, its userPrincipalName without the domain) is a
    Global Administrator, connected through an app with User.ReadWrite.All and
    Directory.ReadWrite.All but no RoleManagement permission: (its connection, the UPN)."""
    tenant_id, domain = str(uuid.uuid4()), f"r{uuid.uuid4().hex[:8]}.example"
    client_id, upn = str(uuid.uuid4()), f"{user['userPrincipalName']}@{domain}"
    for assignments in roles.values():
        for role in assignments:
            role["members"] = [f"{m}@{domain}" for m in role["members"]]
    body = {
        "tenant_id": tenant_id,
        "domains": [domain],
        "apps": [
            {
                "client_id": client_id,
                "client_secret": "s",
                "permissions": ["User.ReadWrite.All", "Directory.ReadWrite.All"],
            }
        ],
        "users": [user | {"userPrincipalName": upn}],
        "directory_roles": [{"role": "Global Administrator", "members": [upn]}],
        **roles,
    }
    with on_sandbox.control() as control:
        assert control.post("/_sandbox/entra/tenants", json=body).status_code == 201
    tenant = Tenant.objects.create(name=name, slug=f"r{tenant_id[:8]}", primary_domain=domain)
    return entra_connection(on_sandbox, tenant, tenant_id, client_id, secret="s"), upn


def test_a_leaver_loses_active_and_eligible_roles_and_units_verified_by_reading_back(
    on_sandbox, worker, client, msp_admin
):
    dirs = make_directories(on_sandbox, "rolesleave")
    identity, upn = admin_person(dirs, "ada")
    assert held_by(dirs.entra_state(), upn) == {
        "active": ["User Administrator"],
        "eligible": ["Global Administrator"],
        "units": ["Paris"],
    }

    job = offboard(identity, delete_after_days=None)

    steps = list(job.steps.order_by("order").values_list("action", "target_name", "status"))
    assert job.status == Job.Status.SUCCEEDED, steps
    assert held_by(dirs.entra_state(), upn) == {"active": [], "eligible": [], "units": []}
    done = [(action, name) for action, name, status in steps if status == Step.Status.SUCCEEDED]
    assert ("remove_role", "User Administrator") in done
    assert ("remove_role", "Global Administrator (eligible)") in done
    assert ("remove_admin_unit", "Paris") in done
    # Roles go before the password reset: the app, a User Administrator, may then reset it.
    actions = [action for action, _ in done]
    assert actions.index("remove_role") < actions.index("reset_password")
    assert not any(action == "remove_group" for action in actions)  # a role is not a group
    removed = next(iter(removed_by_job(job).values()))
    assert [(r["name"], r["eligible"]) for r in removed.roles] == [
        ("User Administrator", False),
        ("Global Administrator (eligible)", True),
    ]
    assert [u["name"] for u in removed.admin_units] == ["Paris"]
    client.force_login(msp_admin)
    page = client.get(
        reverse(
            "identity_detail",
            kwargs={"tenant": dirs.tenant.slug, "identity_id": identity.pk},
        )
    ).content.decode()
    assert "Admin roles and units" in page and "Global Administrator (eligible)" in page
    assert "Not given back by a restore" in page
    job.refresh_from_db()
    connection = dirs.tenant.connections.get(kind="entra")
    assert job.verification["directories"][str(connection.pk)]["roles"] == 0  # read back: none
    job_page = client.get(reverse("job_detail", kwargs={"job_id": job.pk})).content.decode()
    assert "Admin roles and units" in job_page


def test_a_password_reset_without_the_directory_role_fails_with_a_clear_permanent_error(
    on_sandbox, worker
):
    dirs = make_directories(on_sandbox, "rolesnone")
    client_id = dirs.tenant.connections.get(kind="entra").client_id
    own = dirs.graph("GET", f"/servicePrincipals(appId='{client_id}')").json()
    query = f"/roleManagement/directory/roleAssignments?$filter=principalId eq '{own['id']}'"
    for assignment in dirs.graph("GET", query).json()["value"]:
        path = f"/roleManagement/directory/roleAssignments/{assignment['id']}"
        assert dirs.graph("DELETE", path).status_code == 204
    upn = f"pat@{dirs.tenant.primary_domain}"
    dirs.add_entra_user(upn, "Pat", "Plain")
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Pat",
        last_name="Plain",
        display_name="Pat Plain",
        username=upn,
        email=upn,
        status=Identity.Status.ACTIVE,
    )

    job = offboard(identity, delete_after_days=None)

    assert job.status == Job.Status.PARTIAL  # the rest of the leave went through
    reset = job.steps.get(action="reset_password")
    assert reset.status == Step.Status.FAILED and reset.error_kind == "permanent"
    assert reset.attempts == 1  # permanent: not retried
    assert "needs the User Administrator role" in reset.last_error
    assert "Insufficient privileges to complete the operation." in reset.last_error


def test_a_mover_keeps_their_roles_and_units_and_a_leave_preview_lists_them(on_sandbox):
    dirs = make_directories(on_sandbox, "rolesmove")
    identity, upn = admin_person(dirs, "max")
    connection = dirs.tenant.connections.get(kind="entra")
    connector = connector_for(connection)
    remote_id = dirs.entra_user(upn)["id"]

    plan = bridge.run(
        planner.plan_account(
            connector,
            connection.pk,
            desired_for(identity, connection),
            planner.AccountView(remote_id=remote_id),
        )
    )

    # A mover's read leaves roles out (only a leave takes them away): two GETs fewer.
    assert plan.access.roles == frozenset() and plan.readback()["roles"] is None
    assert len(plan.access.admin_units) == 1
    assert plan.access.groups == frozenset()  # neither the role nor the unit is a group
    assert not [s for s in plan.steps if s.action in ("remove_role", "remove_admin_unit")]
    _, held = bridge.run(connector.read_state(remote_id))
    assert held.roles == frozenset({HeldRole(USER_ADMIN), HeldRole(GLOBAL_ADMIN, eligible=True)})

    # The offboarding dry run shows each role and unit as its own step, before the reset.
    options = lifecycle.OffboardingOptions.preset_for(identity.tenant)
    preview = lifecycle.preview_offboarding(identity, options)
    planned = [(s.action, s.target_name) for _, plan, _ in preview.plans for s in plan.steps]
    assert planned.index(("remove_role", "User Administrator")) < planned.index(
        ("reset_password", "random, never shown or stored")
    )
    assert ("remove_role", "Global Administrator (eligible)") in planned
    assert ("remove_admin_unit", "Paris") in planned


def test_without_role_permissions_a_leave_says_what_the_app_lacks(on_sandbox):
    connection, upn = admin_without_role_permissions(
        on_sandbox,
        "Perms",
        {"userPrincipalName": "root"},
        eligible_roles=[{"role": "User Administrator", "members": ["root"]}],
    )
    connector = connector_for(connection)
    user = bridge.run(connector.get_user(upn))
    leaver = DesiredState(upn, "Root", "Admin", "Root Admin", upn, enabled=False, leaving=True)

    plan = bridge.run(
        planner.plan_account(connector, connection.pk, leaver, planner.AccountView(user.id))
    )

    # Directory.ReadWrite.All reads active assignments; PIM needs a RoleManagement permission.
    assert plan.access.roles == frozenset({HeldRole(GLOBAL_ADMIN)})
    note = next(p for p in plan.problems if p.kind == "roles_unread")
    assert not note.blocking and "RoleManagement.ReadWrite.Directory" in note.message
    assert [s.target_name for s in plan.steps if s.action == "remove_role"] == [
        "Global Administrator"
    ]
    with pytest.raises(PermissionDeniedError) as refused:
        bridge.run(connector.remove_role(user.id, HeldRole(GLOBAL_ADMIN)))
    assert "needs the RoleManagement.ReadWrite.Directory permission" in refused.value.message


def test_a_leaver_whose_admin_role_stays_is_not_disabled_and_the_job_says_why(on_sandbox, worker):
    """The app (a User Administrator without RoleManagement.ReadWrite.Directory) cannot take
    away a Global Administrator's role, and then may not disable them either (entra-docs "Who
    can perform sensitive actions"): the step fails with words that say what to grant."""
    connection, upn = admin_without_role_permissions(
        on_sandbox,
        "Chief",
        {
            "userPrincipalName": "chief",
            "displayName": "Chief Admin",
            "givenName": "Chief",
            "surname": "Admin",
        },
    )
    tenant = connection.tenant
    identity = Identity.objects.create(
        tenant=tenant,
        first_name="Chief",
        last_name="Admin",
        display_name="Chief Admin",
        username=upn,
        email=upn,
        status=Identity.Status.ACTIVE,
    )

    job = offboard(identity, delete_after_days=None)

    steps = list(job.steps.order_by("order").values_list("action", "status", "last_error"))
    assert job.status == Job.Status.PARTIAL, (job.error, steps)
    disable = job.steps.get(action="disable_user")
    assert disable.status == Step.Status.FAILED and disable.error_kind == "permanent"
    assert disable.attempts == 1
    assert "Privileged Authentication Administrator" in disable.last_error
    assert "holds an admin role" in disable.last_error
    assert "Insufficient privileges to complete the operation." in disable.last_error


def test_a_leaver_leaves_a_role_assignable_group_before_the_reset_and_the_block(on_sandbox, worker):
    """A member of a role-assignable group is out of a User Administrator's reach (entra-docs
    "Who can reset passwords", "Who can perform sensitive actions"), as an admin is: the
    group goes first, then the app may reset the password and block sign-in."""
    upn = "pia@rolegroup.example"
    dirs = make_directories(
        on_sandbox,
        "rolegroup",
        entra_extra={
            "users": [
                {
                    "userPrincipalName": upn,
                    "displayName": "Pia Admin",
                    "givenName": "Pia",
                    "surname": "Admin",
                }
            ],
            "groups": [
                {"display_name": "Helpdesk (PIM)", "assignable_to_role": True, "members": [upn]}
            ],
        },
    )
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Pia",
        last_name="Admin",
        display_name="Pia Admin",
        username=upn,
        email=upn,
        status=Identity.Status.ACTIVE,
    )

    job = offboard(identity, delete_after_days=None)

    steps = list(job.steps.order_by("order").values_list("action", "target_name", "status"))
    assert job.status == Job.Status.SUCCEEDED, steps
    assert dirs.entra_user(upn)["accountEnabled"] is False
    actions = [action for action, _, _ in steps]
    assert ("remove_group", "Helpdesk (PIM)", Step.Status.SUCCEEDED) in steps
    assert actions.index("remove_group") < actions.index("reset_password")
    assert actions.index("remove_group") < actions.index("disable_user")
