"""A leaver's mail and files through Graph: automatic replies, forwarding to the manager by
inbox rule, the manager's write access to the OneDrive, read back before the job succeeds;
the Exchange-only work on the checklist; no mailbox (no Exchange licence, or the licence gone)
a note, never a failure loop. Real worker, real SDK, the sandbox."""

import pytest

from provisioning import services
from provisioning.engine.mailbox import AUTO_REPLY, FORWARD_MAIL, SHARE_FILES
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGE = "Ada has left the company. Please write to Bo Boss."
HANDOVER = (AUTO_REPLY, FORWARD_MAIL, SHARE_FILES)


def joined(dirs, manager: str = "Bo Boss"):
    request = services.OnboardingRequest(
        first_name="Ada",
        last_name="Lovelace",
        role_templates=[dirs.template],
        attributes={"manager": manager} if manager else {},
    )
    username = services.suggest_username(dirs.tenant, request)
    job = services.request_onboarding(dirs.tenant, request, username=username, actor="system")
    job = wait_for_job(job.pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job.identity


def options(dirs, **chosen) -> lifecycle.OffboardingOptions:
    preset = lifecycle.OffboardingOptions.preset_for(dirs.tenant)
    wanted = {
        "auto_reply": True,
        "auto_reply_message": MESSAGE,
        "forward_to_manager": True,
        "files_to_manager": True,
        **chosen,
    }
    for name, value in wanted.items():
        setattr(preset, name, value)
    return preset


def entra_plan(identity, chosen):
    [(_, plan, error)] = lifecycle.preview_offboarding(identity, chosen).plans
    assert not error, error
    return plan


def read(dirs, path: str) -> dict:
    response = dirs.graph("GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def test_handover_written_read_back_and_then_nothing_to_do(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mail-all")
    boss = dirs.add_entra_user("bo.boss@mail-all.example", "Bo", "Boss")
    leaver = joined(dirs)
    chosen = options(dirs, remove_licenses=False)
    plan = entra_plan(leaver, chosen)
    planned = [s.action for s in plan.steps]
    assert [a for a in planned if a in HANDOVER] == [AUTO_REPLY, FORWARD_MAIL, SHARE_FILES]
    assert {c.kind for c in plan.checklist} == {"shared_mailbox", "hide_from_gal"}
    assert all(c.reason for c in plan.checklist)

    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    upn = leaver.username
    reply = read(dirs, f"/users/{upn}/mailboxSettings")["automaticRepliesSetting"]
    assert reply["status"] == "alwaysEnabled"
    assert reply["internalReplyMessage"] == reply["externalReplyMessage"] == MESSAGE
    [rule] = read(dirs, f"/users/{upn}/mailFolders/inbox/messageRules")["value"]
    assert rule["actions"]["forwardTo"][0]["emailAddress"]["address"] == boss["userPrincipalName"]
    holders = read(dirs, f"/users/{upn}/drive/root/permissions")["value"]
    assert [p["roles"] for p in holders if p["grantedToV2"]["user"]["id"] == boss["id"]] == [
        ["write"]
    ]
    again = entra_plan(leaver, chosen)
    assert [s for s in again.steps if s.action in HANDOVER] == []  # read back as asked


def test_a_changed_reply_is_planned_again(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mail-drift")
    dirs.add_entra_user("bo.boss@mail-drift.example", "Bo", "Boss")
    leaver = joined(dirs)
    chosen = options(dirs, remove_licenses=False, forward_to_manager=False, files_to_manager=False)
    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    body = {"automaticRepliesSetting": {"status": "disabled"}}
    assert dirs.graph("PATCH", f"/users/{leaver.username}/mailboxSettings", body).status_code == 200
    leaver.refresh_from_db()
    assert [s.action for s in entra_plan(leaver, chosen).steps if s.action in HANDOVER] == [
        AUTO_REPLY
    ]


def test_replies_set_before_the_licence_goes_and_read_back_in_the_grace_period(on_sandbox, worker):
    """The handover runs before the licence steps; Exchange keeps the unlicensed mailbox for
    30 days, so the read-back verifies it; the dry run warns that it ends then."""
    dirs = make_directories(on_sandbox, "mail-lic")
    dirs.add_entra_user("bo.boss@mail-lic.example", "Bo", "Boss")
    leaver = joined(dirs)
    chosen = options(dirs, remove_licenses=True, convert_to_shared_mailbox=False)
    plan = entra_plan(leaver, chosen)
    assert "mailbox_goes_with_licence" in {p.kind for p in plan.problems if not p.blocking}
    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    steps = list(job.steps.order_by("order").values_list("action", "status"))
    assert job.status == Job.Status.SUCCEEDED, (job.error, steps)
    actions = [a for a, _ in steps]
    assert actions.index(AUTO_REPLY) < actions.index("remove_license")
    assert all(status == "succeeded" for _, status in steps)
    assert dirs.entra_user(leaver.username)["licenses"] == []
    reply = read(dirs, f"/users/{leaver.username}/mailboxSettings")["automaticRepliesSetting"]
    assert reply["status"] == "alwaysEnabled"


def test_no_exchange_licence_is_a_note_and_the_leave_goes_on(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mail-none", licenses=["EMS"])
    dirs.add_entra_user("bo.boss@mail-none.example", "Bo", "Boss")
    leaver = joined(dirs)
    chosen = options(dirs)
    plan = entra_plan(leaver, chosen)
    notes = {p.kind: p.message for p in plan.problems}
    assert not plan.blocked
    assert "MailboxNotEnabledForRESTAPI" not in notes.get("no_mailbox", "")  # said in words
    assert "no mailbox" in notes["no_mailbox"] and "mysite" in notes["no_drive"]
    assert [s for s in plan.steps if s.action in HANDOVER] == []
    assert plan.checklist == []  # no mailbox to convert or hide
    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error


def test_without_a_manager_forwarding_files_and_reports_are_notes(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mail-alone")
    leaver = joined(dirs, manager="")
    report = dirs.add_entra_user("cy.report@mail-alone.example", "Cy", "Report")
    leaver_id = dirs.entra_user(leaver.username)["id"]
    ref = {"@odata.id": f"{on_sandbox.url}/v1.0/users/{leaver_id}"}
    assert dirs.graph("PUT", f"/users/{report['id']}/manager/$ref", ref).status_code == 204
    chosen = options(dirs, remove_licenses=False, reassign_reports=True)
    plan = entra_plan(leaver, chosen)
    kinds = [p.kind for p in plan.problems]
    assert kinds.count("no_manager") == 2 and "reports_without_manager" in kinds
    assert "Cy Report" in next(p.message for p in plan.problems if p.kind.startswith("reports"))
    assert not plan.blocked
    assert [s.action for s in plan.steps if s.action in HANDOVER] == [AUTO_REPLY]
    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error


def test_an_app_without_mail_and_files_permissions_leaves_a_note_and_the_leave_goes_on(
    on_sandbox, worker, monkeypatch
):
    """Existing app registrations lack MailboxSettings.ReadWrite and Files.ReadWrite.All:
    the leave still blocks sign-in and strips access; the dry run says what to grant."""
    from sandbox.entra.model import ALL_PERMISSIONS
    from tests.provisioning import directories

    narrower = [
        p for p in ALL_PERMISSIONS if p not in ("MailboxSettings.ReadWrite", "Files.ReadWrite.All")
    ]
    real_control = type(on_sandbox).control

    def control(server):
        """The control client, whose tenant creations give the app `narrower` permissions."""
        client = real_control(server)
        post = client.post

        def narrowed(url, json=None, **kwargs):
            if url == "/_sandbox/entra/tenants" and json:
                json = {**json, "apps": [{**json["apps"][0], "permissions": narrower}]}
            return post(url, json=json, **kwargs)

        client.post = narrowed
        return client

    monkeypatch.setattr(type(on_sandbox), "control", control)
    dirs = directories.make_directories(on_sandbox, "mail-perm")
    monkeypatch.setattr(type(on_sandbox), "control", real_control)
    dirs.add_entra_user("bo.boss@mail-perm.example", "Bo", "Boss")
    leaver = joined(dirs)
    chosen = options(dirs)
    plan = entra_plan(leaver, chosen)
    denied = [p for p in plan.problems if p.kind == "handover_not_permitted"]
    assert {p.subject for p in denied} == {"MailboxSettings.ReadWrite", "Files.ReadWrite.All"}
    assert not plan.blocked and [s for s in plan.steps if s.action in HANDOVER] == []
    assert {c.kind for c in plan.checklist} == {"shared_mailbox", "hide_from_gal"}
    job = wait_for_job(lifecycle.request_offboarding(leaver, chosen, actor="system").pk)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert dirs.entra_user(leaver.username)["accountEnabled"] is False


def test_a_step_that_meets_no_mailbox_records_why_instead_of_failing(on_sandbox):
    """The mailbox went between the plan and the step: nothing a retry could change."""
    from provisioning.connectors import bridge
    from provisioning.connectors.factory import connector_for
    from provisioning.engine import mailbox

    dirs = make_directories(on_sandbox, "mail-gone")
    person = dirs.add_entra_user("no.mail@mail-gone.example", "No", "Mail")  # no licence
    connector = connector_for(dirs.tenant.connections.get(kind="entra"))
    result = bridge.run(mailbox.apply(connector, AUTO_REPLY, {"message": "x"}, person["id"]))
    assert "inactive, soft-deleted, or is hosted on-premise" in result["skipped"]
    upn = person["userPrincipalName"]  # a member at the tenant's domain: anyone else is refused
    boss = {"id": person["id"], "username": upn, "email": upn}
    result = bridge.run(mailbox.apply(connector, SHARE_FILES, {"to": boss}, person["id"]))
    assert result["skipped"] == "User's mysite not found."
