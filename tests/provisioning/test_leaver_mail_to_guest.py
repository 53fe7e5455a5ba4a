"""A leaver's mail and OneDrive go only to a member of the client's own directory (guest24,
from attack run 23): a manager who is a guest (invited from outside: userType Guest, an
#EXT# UPN) gets neither, whether the offboarding comes from a job, the page or the API; a
manager who became a guest after the dry run fails the step in words. Read back from the
sandbox: no forwarding rule, no permission for the guest. Real worker, real SDK."""

import pytest
from django.urls import reverse

from portal.models import Role
from provisioning.engine.mailbox import FORWARD_MAIL, RECIPIENT_REFUSED, SHARE_FILES
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_person
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_leaver_mail import entra_plan, joined, options, read

pytestmark = pytest.mark.django_db(transaction=True)

GUEST_ADDRESS = "gus@partner.example"


def with_guest_manager(on_sandbox, slug: str):
    dirs = make_directories(on_sandbox, slug)
    guest = dirs.invite_entra_guest(GUEST_ADDRESS, "Gus Guest")
    leaver = joined(dirs, manager="Gus Guest")
    return dirs, guest, leaver


def forwards_and_shares(dirs, leaver, guest) -> tuple[list, list]:
    upn = leaver.username
    rules = read(dirs, f"/users/{upn}/mailFolders/inbox/messageRules")["value"]
    holders = read(dirs, f"/users/{upn}/drive/root/permissions")["value"]
    shared = [p for p in holders if p["grantedToV2"]["user"]["id"] == guest["id"]]
    return rules, shared


def test_the_sandbox_invites_a_guest_as_graph_does(on_sandbox):
    dirs = make_directories(on_sandbox, "guest-made")
    guest = dirs.invite_entra_guest(GUEST_ADDRESS, "Gus Guest")
    found = read(dirs, f"/users/{guest['id']}?$select=userPrincipalName,userType,mail")
    assert found["userType"] == "Guest" and found["mail"] == GUEST_ADDRESS
    assert found["userPrincipalName"] == "gus_partner.example#EXT#@guest-made.example"


def test_a_leave_whose_manager_is_a_guest_forwards_and_shares_nothing(on_sandbox, worker):
    dirs, guest, leaver = with_guest_manager(on_sandbox, "guest-job")
    chosen = options(dirs, remove_licenses=False)
    refused = [p for p in entra_plan(leaver, chosen).problems if p.kind == RECIPIENT_REFUSED]
    assert ["is a guest in the client's directory" in p.message for p in refused] == [True]

    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    assert job.status != Job.Status.SUCCEEDED  # never shown as done
    failed = {s.action: s.last_error for s in job.steps.filter(status="failed")}
    assert set(failed) == {FORWARD_MAIL, SHARE_FILES}
    assert all("Gus Guest" in why and "is a guest" in why for why in failed.values())
    assert forwards_and_shares(dirs, leaver, guest) == ([], [])
    assert dirs.entra_user(leaver.username)["accountEnabled"] is False  # the rest went on


def test_a_manager_who_became_a_guest_after_the_dry_run_fails_the_step(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "guest-late")
    boss = dirs.add_entra_user("bo.boss@guest-late.example", "Bo", "Boss")
    leaver = joined(dirs)
    chosen = options(dirs, remove_licenses=False, auto_reply=False)
    assert {s.action for s in entra_plan(leaver, chosen).steps} >= {FORWARD_MAIL, SHARE_FILES}
    patched = dirs.graph("PATCH", f"/users/{boss['id']}", {"userType": "Guest"})
    assert patched.status_code == 204, patched.text
    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    failed = {s.action: s.last_error for s in job.steps.filter(status="failed")}
    assert set(failed) == {FORWARD_MAIL, SHARE_FILES}, (job.status, job.error)
    rules, shared = forwards_and_shares(dirs, leaver, boss)
    assert rules == [] and shared == []


def test_the_offboarding_page_refuses_a_guest_manager_and_queues_nothing(on_sandbox, client):
    dirs, _guest, leaver = with_guest_manager(on_sandbox, "guest-page")
    client.force_login(make_person("tech-guest-page", Role.TECHNICIAN, [dirs.tenant]))
    path = reverse("offboard", kwargs={"tenant": dirs.tenant.slug, "identity_id": leaver.pk})
    form = client.get(path).context["form"]
    data = {k: v for k, v in form.initial.items() if v not in (False, None, "")}
    data |= {"forward_to_manager": "on", "files_to_manager": "on", "block_sign_in": "on"}
    data |= {"when": "now", "okta_mode": form.initial.get("okta_mode", "suspend")}
    data.pop("keep_group", None)
    response = client.post(path, {k: ("on" if v is True else v) for k, v in data.items()})
    assert response.status_code == 200
    said = " ".join(response.context["form"].non_field_errors())
    assert f"Gus Guest ({_guest['userPrincipalName']}) is a guest in {dirs.tenant.name}'s" in said
    assert "a leaver's mail goes only to a member" in said
    assert not Job.objects.filter(identity=leaver, kind=Job.Kind.LEAVE).exists()


def test_the_api_refuses_a_guest_manager_with_422_and_queues_nothing(on_sandbox):
    dirs, _guest, leaver = with_guest_manager(on_sandbox, "guest-api")
    client = ApiClient(token_for(make_person("tech-guest-api", Role.TECHNICIAN, [dirs.tenant])))
    body = {"forward_to_manager": True, "files_to_manager": True}
    response = client.post(f"/api/v1/people/{leaver.pk}/offboard", body)
    assert response.status_code == 422, response.content
    assert "is a guest in" in response.content.decode()
    assert not Job.objects.filter(identity=leaver, kind=Job.Kind.LEAVE).exists()
