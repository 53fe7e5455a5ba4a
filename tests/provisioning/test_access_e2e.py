"""Access requests end to end: request, approval, the grant job in the sandbox, the end."""

import threading

import pytest
from django.core import mail
from django.db import connection as db_connection
from django.utils import timezone

from portal.models import Role
from provisioning.access import services as ar
from provisioning.connectors import bridge
from provisioning.connectors.factory import connector_for
from provisioning.models import AccessRequest, Job, RequestableResource
from tests.factories import make_person
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_lifecycle_e2e import onboard

pytestmark = pytest.mark.django_db(transaction=True)


def requestable(dirs, name: str, kind: str = "group", **options) -> RequestableResource:
    connection = dirs.tenant.connections.get(kind="entra")
    read = connector_for(connection).groups if kind == "group" else connector_for(connection).apps
    found = next(r for r in bridge.run(read()) if r.name == name)
    resource = RequestableResource(
        tenant=dirs.tenant,
        connection=connection,
        kind=kind,
        remote_id=found.id,
        name=found.name,
        **options,
    )
    return ar.save_requestable(resource, actor="system")


@pytest.fixture
def world(on_sandbox, worker):
    dirs = make_directories(on_sandbox, f"acc{timezone.now().strftime('%H%M%S%f')}")
    dirs.approver = make_person(f"ca-{dirs.tenant.slug}", Role.CLIENT_ADMIN, [dirs.tenant])
    dirs.tech = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.identity = onboard(dirs.tenant, "Aria", "Access", [dirs.template])
    return dirs


def groups_of(dirs) -> list[str]:
    return sorted(dirs.entra_user(dirs.identity.username)["groups"])


def test_time_bound_grant_is_removed_at_its_end_but_role_access_stays(world):
    vpn = requestable(world, "VPN Users", time_bound=True, max_days=30)
    staff = requestable(world, "Staff")  # also given by the role template
    ends = timezone.now() + timezone.timedelta(days=10)
    mail.outbox.clear()
    vpn_request = ar.file_request(
        world.identity, vpn, reason="On call", ends_at=ends, actor=world.tech
    )
    staff_request = ar.file_request(
        world.identity, staff, reason="Belt and braces", ends_at=ends, actor=world.tech
    )
    assert [m.to for m in mail.outbox] == [[world.approver.email]] * 2
    for access_request in (vpn_request, staff_request):
        ar.approve(access_request, actor=world.approver, reason="Fine")
        access_request.refresh_from_db()
        assert wait_for_job(access_request.grant_job_id).status == Job.Status.SUCCEEDED
        access_request.refresh_from_db()
        assert access_request.status == AccessRequest.Status.GRANTED
    assert "VPN Users" in groups_of(world) and "Staff" in groups_of(world)
    assert ar.end_due_grants(now=ends - timezone.timedelta(minutes=1)) == 0
    assert ar.end_due_grants(now=ends + timezone.timedelta(seconds=1)) == 2
    for access_request in (vpn_request, staff_request):
        access_request.refresh_from_db()
        assert wait_for_job(access_request.end_job_id).status == Job.Status.SUCCEEDED
        access_request.refresh_from_db()
        assert access_request.status == AccessRequest.Status.ENDED
    assert "VPN Users" not in groups_of(world)
    assert "Staff" in groups_of(world)  # the role template's membership is not the grant's


def test_auto_approve_rule_grants_without_a_human(world):
    slack = requestable(
        world, "Slack", kind="app", auto_approve_attribute="department", auto_approve_value="Sales"
    )
    access_request = ar.file_request(
        world.identity, slack, reason="Team chat", ends_at=None, actor=world.tech
    )
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.APPROVED
    assert access_request.decided_by is None
    assert access_request.decided_by_rule == "department is “Sales”"
    assert wait_for_job(access_request.grant_job_id).status == Job.Status.SUCCEEDED
    apps = [a["app"] for a in world.entra_user(world.identity.username)["appRoleAssignments"]]
    assert "Slack" in apps


def test_two_approvers_at_once_make_one_grant(world):
    second = make_person(f"ca2-{world.tenant.slug}", Role.CLIENT_ADMIN, [world.tenant])
    vpn = requestable(world, "VPN Users")
    access_request = ar.file_request(
        world.identity, vpn, reason="Remote work", ends_at=None, actor=world.tech
    )
    barrier, outcomes = threading.Barrier(2), []

    def decide(person):
        barrier.wait()
        try:
            ar.approve(AccessRequest.objects.get(pk=access_request.pk), actor=person, reason="ok")
            outcomes.append("approved")
        except ar.AccessRequestError as exc:
            outcomes.append(exc.message)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=decide, args=(p,)) for p in (world.approver, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["This request has been decided already.", "approved"]
    assert Job.objects.filter(kind=Job.Kind.GRANT, identity=world.identity).count() == 1
