"""POST onboard, change, offboard, restore, retry and cancel: who may, what validates (the
pages' forms), what the services refuse, and one onboarding end to end on the sandbox."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.models import Batch, Identity, Job
from tests.factories import make_person
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories

from .conftest import ApiClient, token_for

pytestmark = pytest.mark.django_db


def onboarding(dirs, **extra) -> dict:
    return {"first_name": "Ada", "last_name": "Lovelace", "role_templates": [dirs.template.pk]} | (
        extra
    )


@pytest.fixture
def sandboxed(on_sandbox):
    """A tenant on the sandbox, with its technician, account manager and client admin."""
    dirs = make_directories(on_sandbox, f"api-{uuid.uuid4().hex[:8]}")
    dirs.people = {
        role: make_person(f"{role}-{dirs.tenant.slug}", role, [dirs.tenant])
        for role in (Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN)
    }
    return dirs


def person_of(dirs, status=Identity.Status.ACTIVE, name="grace.hopper") -> Identity:
    identity = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Grace",
        last_name="Hopper",
        display_name="Grace Hopper",
        username=f"{name}@{dirs.tenant.primary_domain}",
        email=f"{name}@{dirs.tenant.primary_domain}",
        status=status,
    )
    identity.role_templates.set([dirs.template])
    return identity


# -- onboard ----------------------------------------------------------------------------------


def test_a_technician_onboards_and_gets_202_with_the_job(sandboxed, api_as):
    client = api_as(sandboxed.people[Role.TECHNICIAN], name="HaloPSA")
    response = client.post(f"/api/v1/tenants/{sandboxed.tenant.slug}/people", onboarding(sandboxed))
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "join" and job["status"] == "queued"
    assert job["url"] == f"/api/v1/jobs/{job['id']}" == response["Location"]
    assert job["portal_url"].endswith(f"/jobs/{job['id']}/")
    person = Identity.objects.get(tenant=sandboxed.tenant)
    assert person.username == f"ada.lovelace@{sandboxed.tenant.primary_domain}"
    event = AuditEvent.objects.get(action="identity.onboard")
    assert "HaloPSA" in event.actor_display


def test_onboarding_is_refused_to_account_managers_client_admins_and_other_tenants(
    sandboxed, alpha, api_as
):
    path = f"/api/v1/tenants/{sandboxed.tenant.slug}/people"
    for role in (Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN):
        response = api_as(sandboxed.people[role]).post(path, onboarding(sandboxed))
        assert response.status_code == 403, role
        assert response["Content-Type"] == "application/problem+json"
    assert api_as(alpha.technician).post(path, onboarding(sandboxed)).status_code == 404
    assert not Identity.objects.filter(tenant=sandboxed.tenant).exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "Not A Name"}, "username"),
        ({"username": "ada@elsewhere.example"}, "username"),
        ({"start_date": "2001-01-01"}, "start_date"),
        ({"first_name": "   "}, "first_name"),
        ({"usage_location": "G1"}, "usage_location"),
        ({"usage_location": "UK"}, "usage_location"),
    ],
)
def test_the_onboarding_forms_rules_answer_422_with_the_field(sandboxed, api_as, change, field):
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    response = client.post(
        f"/api/v1/tenants/{sandboxed.tenant.slug}/people", onboarding(sandboxed, **change)
    )
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["type"].endswith("#problem-invalid")
    assert ["body", "body", field] in [e["loc"] for e in problem["errors"]]
    assert not Identity.objects.filter(tenant=sandboxed.tenant).exists()


def test_a_taken_username_and_another_tenants_template_are_422(sandboxed, alpha, api_as):
    person_of(sandboxed, name="ada.lovelace")
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    path = f"/api/v1/tenants/{sandboxed.tenant.slug}/people"
    taken = onboarding(sandboxed, username=f"ada.lovelace@{sandboxed.tenant.primary_domain}")
    response = client.post(path, taken)
    assert response.status_code == 422
    assert "another person" in response.json()["errors"][0]["msg"]
    response = client.post(path, onboarding(sandboxed, role_templates=[alpha.template.pk]))
    assert response.status_code == 422
    assert "not one of this tenant's" in response.json()["errors"][0]["msg"]


def test_the_same_onboarding_sent_twice_is_422_unless_it_is_another_person(sandboxed, api_as):
    """A caller's retry without an Idempotency-Key gave ada.lovelace2 and a second account in
    every directory; the form's namesake rule answers it, and `different_person` lets a
    namesake in."""
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    path = f"/api/v1/tenants/{sandboxed.tenant.slug}/people"
    assert client.post(path, onboarding(sandboxed)).status_code == 202
    again = client.post(path, onboarding(sandboxed))
    assert again.status_code == 422, again.content
    assert ["body", "body", "different_person"] in [e["loc"] for e in again.json()["errors"]]
    assert Identity.objects.filter(tenant=sandboxed.tenant).count() == 1
    namesake = client.post(path, onboarding(sandboxed, different_person=True))
    assert namesake.status_code == 202, namesake.content
    assert Identity.objects.filter(tenant=sandboxed.tenant).count() == 2


def test_a_directory_that_cannot_be_read_blocks_the_onboarding_as_the_page_does(sandboxed, api_as):
    connection = sandboxed.tenant.connections.get()
    connection.set_secret("not-the-secret")  # the sandbox's token endpoint refuses it
    connection.save()
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    response = client.post(f"/api/v1/tenants/{sandboxed.tenant.slug}/people", onboarding(sandboxed))
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"].endswith("#problem-blocked") and problem["blockers"]
    assert "could not be read" in problem["detail"]
    assert not Identity.objects.filter(tenant=sandboxed.tenant).exists()


def test_a_licence_answer_the_dry_run_does_not_ask_for_is_409(sandboxed, api_as):
    """SPE_E3 has free seats: the onboarding's dry run asks nothing about it, so a body that
    names a replacement for it anyway is refused as the page refuses it, and no one is made."""
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    body = onboarding(sandboxed, license_choices={"SPE_E3": "EMS"})
    response = client.post(f"/api/v1/tenants/{sandboxed.tenant.slug}/people", body)
    assert response.status_code == 409, response.content
    assert "SPE_E3 has free seats: the dry run asks nothing about it" in response.json()["detail"]
    assert not Identity.objects.filter(tenant=sandboxed.tenant).exists()


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"first_name": 5, "last_name": "L", "role_templates": [1]}',
        b'{"first_name": "A", "last_name": "L", "role_templates": "all"}',
        b'{"first_name": "A", "last_name": "L", "role_templates": [99999999999999999999999]}',
        b'{"first_name": "A", "last_name": "L", "role_templates": [1], "start_date": "soon"}',
        b'{"first_name": "A\\u0000", "last_name": "L", "role_templates": [1]}',
        b"[]",
        b'"a string"',
        b'{"first_name": "A", "last_name": "L", "role_templates": [1], "frist_name": "A"}',
    ],
)
def test_malformed_bodies_are_a_4xx_problem(alpha, api_as, raw):
    client = api_as(alpha.technician)
    response = client.client.post(
        f"/api/v1/tenants/{alpha.tenant.slug}/people",
        raw,
        content_type="application/json",
        headers=client.headers,
    )
    assert response.status_code in (400, 409, 422), response.content
    assert response["Content-Type"] == "application/problem+json"
    assert not Identity.objects.filter(tenant=alpha.tenant, first_name__startswith="A").exists()


# -- change, offboard, restore ----------------------------------------------------------------


def test_a_change_through_the_api_is_audited_with_the_tokens_name(sandboxed, api_as):
    person = person_of(sandboxed)
    client = api_as(sandboxed.people[Role.TECHNICIAN], name="NinjaOne RMM")
    response = client.post(f"/api/v1/people/{person.pk}/change", {"job_title": "Rear Admiral"})
    assert response.status_code == 202, response.content
    assert response.json()["job"]["kind"] == "change"
    person.refresh_from_db()
    assert person.attributes["job_title"] == "Rear Admiral"
    event = AuditEvent.objects.get(action="identity.change")
    assert event.actor_display.endswith("via API token “NinjaOne RMM”")


def test_two_changes_of_one_person_at_the_same_moment_lose_neither(sandboxed, api_as, monkeypatch):
    """Two tools change Grace at once through the API, each sending only what it changes (a
    job title, a department): the body is laid over the person as read. The second is read
    and dry-run before the first commits; it must not then save the person as it read them
    with its own field over it, which puts the first one's department back while both were
    answered 202. Each change answered 202 stands; one refused (409) changed nothing."""
    from provisioning.lifecycle import services as lifecycle

    person = person_of(sandboxed)
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    path = f"/api/v1/people/{person.pk}/change"
    title, department = {"job_title": "Rear Admiral"}, {"department": "Navy"}
    real, answers, calls = lifecycle.preview_change, {}, []

    def the_other_commits_meanwhile(identity, change, **kwargs):
        calls.append(change)
        if len(calls) == 1:  # the title's dry run: the department's request runs whole now
            answers["department"] = client.post(path, department)
        return real(identity, change, **kwargs)

    monkeypatch.setattr(lifecycle, "preview_change", the_other_commits_meanwhile)
    answers["title"] = client.post(path, title)

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses["department"] == 202 and statuses["title"] in (202, 409), statuses
    person.refresh_from_db()
    held = {name: person.attributes.get(name) for name in ("job_title", "department")}
    wanted = department | (title if statuses["title"] == 202 else {})
    assert {k: v for k, v in held.items() if v} == wanted, (statuses, held)
    jobs = Job.objects.filter(identity=person, kind=Job.Kind.CHANGE).count()
    assert jobs == sum(status == 202 for status in statuses.values())


def test_a_change_sent_after_a_scheduled_one_stands_when_that_one_falls_due(sandboxed, api_as):
    """A tool schedules Grace's new job title for next week; another sets her department
    now. Each sends only what it changes. When the scheduled one falls due it sets the job
    title, and does not put back the department she had when it was sent."""
    from provisioning.lifecycle import services as lifecycle

    person = person_of(sandboxed)
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    path = f"/api/v1/people/{person.pk}/change"
    later = (timezone.now() + timedelta(days=7)).isoformat()
    scheduled = client.post(path, {"job_title": "Rear Admiral", "at": later})
    assert scheduled.status_code == 202, scheduled.content
    assert client.post(path, {"department": "Navy"}).status_code == 202

    lifecycle.start_due_jobs(now=timezone.now() + timedelta(days=8))

    person.refresh_from_db()
    held = {name: person.attributes.get(name) for name in ("job_title", "department")}
    assert held == {"job_title": "Rear Admiral", "department": "Navy"}


def test_a_change_that_changes_nothing_or_of_a_leaver_is_refused(sandboxed, api_as):
    person = person_of(sandboxed)
    client = api_as(sandboxed.people[Role.TECHNICIAN])
    response = client.post(f"/api/v1/people/{person.pk}/change", {})
    assert response.status_code == 422
    assert "Nothing differs" in response.json()["detail"]
    left = person_of(sandboxed, Identity.Status.LEFT, name="left.one")
    response = client.post(f"/api/v1/people/{left.pk}/change", {"job_title": "Back"})
    assert response.status_code == 409 and "restore them" in response.json()["detail"]


def test_offboarding_takes_the_preset_and_refuses_a_second(alpha, api_as):
    client = api_as(alpha.technician)
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    response = client.post(path, {"reset_password": True})
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.kind == Job.Kind.LEAVE and job.options["offboard"]["reset_password"] is True
    assert job.options["offboard"]["block_sign_in"] is True  # the preset's
    assert job.batch.kind == Batch.Kind.API
    second = client.post(path, {})
    assert second.status_code == 409 and "running already" in second.json()["detail"]


def test_an_offboarding_that_does_nothing_or_has_passed_is_422(alpha, api_as):
    client = api_as(alpha.technician)
    path = f"/api/v1/people/{alpha.identity.pk}/offboard"
    nothing = dict.fromkeys(
        ["block_sign_in", "revoke_sessions", "reset_password", "remove_groups"], False
    ) | dict.fromkeys(["remove_licenses", "remove_apps", "reassign_reports"], False)
    nothing |= dict.fromkeys(
        ["auto_reply", "forward_to_manager", "files_to_manager", "convert_to_shared_mailbox"],
        False,
    ) | {"hide_from_address_list": False}
    assert client.post(path, nothing).status_code == 422
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = client.post(path, {"at": past})
    assert response.status_code == 422 and response.json()["errors"][0]["loc"] == [
        "body",
        "body",
        "at",
    ]
    assert client.post(path, {"okta_mode": "obliterate"}).status_code == 422
    for edge in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59"):
        assert client.post(path, {"at": edge}).status_code == 422, edge


def test_offboarding_more_than_the_limit_within_an_hour_is_held(alpha, api_as):
    from tests.factories import make_joiner

    alpha.tenant.offboard_hold_count = 1
    alpha.tenant.save()
    second, _ = make_joiner(alpha, "Sam", "Second")
    make_joiner(alpha, "Tia", "Third")
    client = api_as(alpha.technician)
    first = client.post(f"/api/v1/people/{alpha.identity.pk}/offboard", {})
    assert first.json()["job"]["status"] == "queued"
    held = client.post(f"/api/v1/people/{second.pk}/offboard", {})
    assert held.status_code == 202 and held.json()["job"]["status"] == "held"


def test_restore_brings_back_a_leaver_and_refuses_an_active_person(alpha, api_as):
    client = api_as(alpha.technician)
    response = client.post(f"/api/v1/people/{alpha.identity.pk}/restore")
    assert response.status_code == 409 and "has not left" in response.json()["detail"]
    Identity.objects.filter(pk=alpha.identity.pk).update(status=Identity.Status.LEFT)
    response = client.post(f"/api/v1/people/{alpha.identity.pk}/restore")
    assert response.status_code == 202 and response.json()["job"]["kind"] == "restore"


# -- retry, cancel ----------------------------------------------------------------------------


def test_retry_queues_a_failed_job_again_and_refuses_a_running_one(alpha, api_as):
    client = api_as(alpha.technician)
    response = client.post(f"/api/v1/jobs/{alpha.job.pk}/retry")
    assert response.status_code == 202
    assert response.json()["job"] | {"portal_url": ""} == {
        "id": alpha.job.pk,
        "kind": "join",
        "status": "queued",
        "url": f"/api/v1/jobs/{alpha.job.pk}",
        "portal_url": "",
    }
    assert client.post(f"/api/v1/jobs/{alpha.job.pk}/retry").status_code == 409


def test_cancel_ends_a_scheduled_job_and_refuses_a_finished_one(alpha, api_as):
    scheduled = Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        status=Job.Status.SCHEDULED,
        not_before=timezone.now() + timedelta(days=3),
    )
    client = api_as(alpha.technician)
    response = client.post(f"/api/v1/jobs/{scheduled.pk}/cancel")
    assert response.status_code == 202 and response.json()["job"]["status"] == "cancelled"
    response = client.post(f"/api/v1/jobs/{alpha.job.pk}/cancel")
    assert response.status_code == 409 and "can no longer be cancelled" in response.json()["detail"]


# -- every POST: roles, tenants, read-only tokens ---------------------------------------------


def posts_of(world) -> list[tuple[str, dict]]:
    person, job = world.identity.pk, world.job.pk
    return [
        (f"/api/v1/tenants/{world.tenant.slug}/people", {"first_name": "A", "last_name": "B"}),
        (f"/api/v1/people/{person}/change", {"job_title": "X"}),
        (f"/api/v1/people/{person}/offboard", {}),
        (f"/api/v1/people/{person}/restore", {}),
        (f"/api/v1/jobs/{job}/retry", {}),
        (f"/api/v1/jobs/{job}/cancel", {}),
    ]


def with_templates(world, body: dict) -> dict:
    return body | ({"role_templates": [world.template.pk]} if "first_name" in body else {})


def test_every_post_is_403_for_a_read_only_token_and_for_roles_the_pages_refuse(alpha, api_as):
    read_only = api_as(alpha.technician, read_only=True)
    refused = [read_only, api_as(alpha.account_manager), api_as(alpha.client_admin)]
    for path, body in posts_of(alpha):
        for client in refused:
            response = client.post(path, with_templates(alpha, body))
            assert response.status_code == 403, (path, response.content)
    changes = AuditEvent.objects.exclude(
        action__in=["api_token.create", "security.request_refused"]
    )
    assert not changes.exists()


def test_every_post_on_another_tenants_objects_is_404(alpha, bravo, msp_admin, api_as):
    for client in (api_as(alpha.technician), api_as(msp_admin, tenants=[alpha.tenant])):
        for path, body in posts_of(bravo):
            response = client.post(path, with_templates(bravo, body))
            assert response.status_code == 404, (path, response.content)
    assert Job.objects.get(pk=bravo.job.pk).status == Job.Status.FAILED


# -- end to end -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_onboarding_through_the_api_ends_with_the_user_in_the_sandbox(on_sandbox, worker):
    dirs = make_directories(on_sandbox, f"apie2e-{uuid.uuid4().hex[:6]}")
    technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    client = ApiClient(token_for(technician))
    response = client.post(
        f"/api/v1/tenants/{dirs.tenant.slug}/people",
        {"first_name": "Grace", "last_name": "Hopper", "role_templates": [dirs.template.pk]},
        key=str(uuid.uuid4()),
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["job"]["id"])
    assert job.status == Job.Status.SUCCEEDED, list(job.steps.values_list("action", "last_error"))
    user = dirs.entra_user(f"grace.hopper@{dirs.tenant.primary_domain}")
    assert user is not None and user["accountEnabled"] is True
    assert sorted(user["groups"]) == ["Sales", "Sales (dynamic)", "Staff"]


def test_whatever_the_body_another_tenants_object_is_404_and_a_read_only_token_403(
    alpha, bravo, api_as
):
    from tests.provisioning.test_views_access import file, requestable

    filed = file(alpha, requestable(alpha, "Alpha Wiki", kind="app"), days=None)
    paths = [path for path, _ in posts_of(alpha)] + [
        f"/api/v1/tenants/{alpha.tenant.slug}/access-requests",
        f"/api/v1/access-requests/{filed.pk}/decision",
    ]
    read_only = api_as(alpha.client_admin, read_only=True)
    for path in paths:
        for body in ({}, {"first_name": 5}, {"decision": "perhaps"}):
            for client in (api_as(bravo.technician), api_as(bravo.client_admin)):
                response = client.post(path, body)
                assert response.status_code == 404, (path, body, response.content)
            assert read_only.post(path, body).status_code == 403, (path, body)


def test_the_write_endpoints_use_the_one_bearer_scheme(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert list(schema["components"]["securitySchemes"]) == ["TokenAuth"]


@pytest.mark.parametrize(
    "raw", [b'["a list"]', b'"text"', b"5", b"null", b'{"reset_pasword": true}']
)
def test_an_offboarding_body_that_is_not_an_object_of_its_fields_offboards_nobody(
    alpha, api_as, raw
):
    client = api_as(alpha.technician)
    response = client.client.post(
        f"/api/v1/people/{alpha.identity.pk}/offboard",
        raw,
        content_type="application/json",
        headers=client.headers,
    )
    assert response.status_code == 422, response.content
    assert not Job.objects.filter(identity=alpha.identity, kind=Job.Kind.LEAVE).exists()


WRITES = [
    "/api/v1/tenants/{slug}/people",
    "/api/v1/people/{id}/change",
    "/api/v1/people/{id}/offboard",
    "/api/v1/people/{id}/restore",
    "/api/v1/jobs/{id}/retry",
    "/api/v1/jobs/{id}/cancel",
    "/api/v1/tenants/{slug}/access-requests",
    "/api/v1/access-requests/{id}/decision",
    "/api/v1/access-requests/{id}/revoke",
]


def test_every_write_is_documented_field_by_field_with_its_idempotency_key(client):
    schema = client.get("/api/v1/openapi.json").json()
    components = schema["components"]["schemas"]
    for path in WRITES:
        operation = schema["paths"][path]["post"]
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
        assert {"403", "404", "422"} <= set(operation["responses"]), path
        body = operation.get("requestBody")
        if body is None:
            continue
        ref = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        fields = components[ref]["properties"]
        undocumented = [name for name, field in fields.items() if not field.get("description")]
        assert not undocumented, f"{path}: {undocumented}"
        assert components[ref]["additionalProperties"] is False, path
