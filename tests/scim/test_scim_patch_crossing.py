"""A SCIM PATCH and a change from another entry point of the same person at nearly the same
moment (convergence check converge23). A PATCH names only what it changes; every request
answered 2xx must stand in the person's desired state, in the audit trail and, once the jobs
have run, in the directory's read-back. The other request commits between the PATCH's read of
the person and its save: the interleaving a Barrier of threads gives now and then, set here
by running the other request whole at that point."""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.models import Identity, Job
from provisioning.scim import mapping, tokens
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_person
from tests.provisioning.conftest import run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_hr_webhook import send, with_secret

pytestmark = pytest.mark.django_db

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def grace(on_sandbox, msp_admin):
    """An active person of a tenant on the sandbox, a technician's API client, a SCIM token."""
    dirs = make_directories(on_sandbox, f"cross-{uuid.uuid4().hex[:8]}")
    domain = dirs.tenant.primary_domain
    person = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Grace",
        last_name="Hopper",
        display_name="Grace Hopper",
        username=f"grace.hopper@{domain}",
        email=f"grace.hopper@{domain}",
        status=Identity.Status.ACTIVE,
        attributes={"department": "Sales", "company": "Alpha Ltd"},
        employee_id="E1906",
    )
    person.role_templates.set([dirs.template])
    technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    with_secret(dirs.tenant)
    _, clear = tokens.issue(dirs.tenant, "Okta production", actor=msp_admin)
    dirs.person, dirs.technician, dirs.scim_token = person, technician, clear
    dirs.api = ApiClient(token_for(technician))
    return dirs


def scim_patch(dirs, operations: list[dict]):
    path = reverse("scim_user", kwargs={"tenant": dirs.tenant.slug, "user_id": str(dirs.person.pk)})
    body = {"schemas": [PATCH], "Operations": operations}
    return Client().patch(
        path,
        data=json.dumps(body),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {dirs.scim_token}",
    )


def api_department(dirs, department: str):
    return dirs.api.post(f"/api/v1/people/{dirs.person.pk}/change", {"department": department})


def hr_terminate(dirs):
    event = {"event": "terminate", "id": uuid.uuid4().hex, "employee_id": "E1906"}
    return send(Client(), dirs.tenant.slug, event)


def run_the_jobs(person: Identity) -> list[Job]:
    jobs = list(Job.objects.filter(identity=person).order_by("desired_version"))
    for job in jobs:
        run_now(job.pk)
    return [Job.objects.get(pk=job.pk) for job in jobs]


def the_other_commits_after_the_patch_read(monkeypatch, other) -> dict:
    """`other()` runs whole once the PATCH has read the person, before it locks them (the
    first time the SCIM user it asks for is read as the person's fields); its answer lands
    in the returned dict."""
    answers, person_fields = {}, mapping.person_fields

    def then_the_other(tenant, user, **kwargs):
        if "other" not in answers:
            answers["other"] = other()
        return person_fields(tenant, user, **kwargs)

    monkeypatch.setattr(mapping, "person_fields", then_the_other)
    return answers


def test_a_patch_does_not_put_back_what_an_api_change_set_meanwhile(grace, monkeypatch):
    """SCIM replaces the company while the API moves Grace to Marketing. The PATCH was laid
    over Grace as read before the API's change committed, and saved whole: the department
    went back to Sales, though the API had answered 202 and the PATCH named no department.
    Both answered 2xx, so the desired state, the trail and the directory hold both."""
    answers = the_other_commits_after_the_patch_read(
        monkeypatch, lambda: api_department(grace, "Marketing")
    )
    company = {"op": "replace", "path": f"{ENTERPRISE}:organization", "value": "Beta GmbH"}
    answers["scim"] = scim_patch(grace, [company])

    assert answers["other"].status_code == 202, answers["other"].content
    assert answers["scim"].status_code == 200, answers["scim"].content
    shown = answers["scim"].json()[ENTERPRISE]
    assert (shown["department"], shown["organization"]) == ("Marketing", "Beta GmbH")
    person = Identity.objects.get(pk=grace.person.pk)
    held = (person.attributes.get("department"), person.attributes.get("company"))
    assert held == ("Marketing", "Beta GmbH")

    last = AuditEvent.objects.filter(target_id=str(person.pk), action="scim.user_update").get()
    assert last.after["fields"]["department"] == "Marketing", last.after

    jobs = run_the_jobs(person)
    assert {job.status for job in jobs} == {Job.Status.SUCCEEDED}, jobs
    account = grace.entra_user(person.username)
    assert (account["department"], account["companyName"]) == ("Marketing", "Beta GmbH")


def test_a_patch_does_not_restore_someone_hr_terminated_meanwhile(grace, monkeypatch):
    """HR terminates Grace (202) while SCIM replaces her company. The PATCH, laid over Grace
    as read while she was active, came out `active: true` and, Grace being a leaver by the
    time it saved, restored her: a leave HR was told was accepted undone by a request that
    never named `active`. She stays left, nothing restores her, and no account of hers is
    enabled once the jobs have run."""
    answers = the_other_commits_after_the_patch_read(monkeypatch, lambda: hr_terminate(grace))
    company = {"op": "replace", "path": f"{ENTERPRISE}:organization", "value": "Beta GmbH"}
    answers["scim"] = scim_patch(grace, [company])

    assert answers["other"].status_code == 202, answers["other"].content
    assert answers["scim"].status_code == 200, answers["scim"].content
    assert answers["scim"].json()["active"] is False
    person = Identity.objects.get(pk=grace.person.pk)
    assert person.status == Identity.Status.LEAVER
    assert person.attributes.get("company") == "Beta GmbH"
    assert not Job.objects.filter(identity=person, kind=Job.Kind.RESTORE).exists()

    jobs = run_the_jobs(person)
    assert {job.status for job in jobs} == {Job.Status.SUCCEEDED}, jobs
    assert Identity.objects.get(pk=person.pk).status == Identity.Status.LEFT
    account = grace.entra_user(person.username)
    assert account is None or account["accountEnabled"] is False, account


def test_a_patch_keeps_an_office_scim_has_no_attribute_for(grace):
    """The API gives Grace an office (202); later SCIM replaces her company. SCIM has no
    attribute for the office (the tenant's inbound mapping gives it no source), so the
    PATCH cannot have asked to clear it: it stays, in the portal and in the directory. Every
    PATCH or PUT cleared it, as a value that mapped to nothing."""
    answer = grace.api.post(f"/api/v1/people/{grace.person.pk}/change", {"office": "Dock 4"})
    assert answer.status_code == 202, answer.content
    company = {"op": "replace", "path": f"{ENTERPRISE}:organization", "value": "Beta GmbH"}
    patched = scim_patch(grace, [company])
    assert patched.status_code == 200, patched.content

    person = Identity.objects.get(pk=grace.person.pk)
    held = (person.attributes.get("office"), person.attributes.get("company"))
    assert held == ("Dock 4", "Beta GmbH")
    jobs = run_the_jobs(person)
    assert {job.status for job in jobs} == {Job.Status.SUCCEEDED}, jobs
    account = grace.entra_user(person.username)
    assert (account["officeLocation"], account["companyName"]) == ("Dock 4", "Beta GmbH")


def test_the_people_pages_change_form_keeps_a_company_scim_set_meanwhile(grace, monkeypatch):
    """A technician moves Grace to Marketing on her page while SCIM replaces her company. The
    form shows no company: its change was laid over Grace as the page's POST read her, and
    the submit's dry run (directory reads: seconds) let SCIM's PATCH commit meanwhile, which
    the form's save then put back (the PATCH answered 200). The form sets what it shows."""
    from provisioning.lifecycle import services as lifecycle

    real, answers = lifecycle.preview_change, {}

    def scim_commits_meanwhile(identity, change, **kwargs):
        if "scim" not in answers:
            company = {"op": "replace", "path": f"{ENTERPRISE}:organization", "value": "Beta"}
            answers["scim"] = scim_patch(grace, [company])
        return real(identity, change, **kwargs)

    monkeypatch.setattr(lifecycle, "preview_change", scim_commits_meanwhile)
    client = Client()
    client.force_login(grace.technician)
    url = reverse(
        "identity_change", kwargs={"tenant": grace.tenant.slug, "identity_id": grace.person.pk}
    )
    data = {"role_templates": [grace.template.pk], "department": "Marketing", "job_title": "",
            "office": "", "usage_location": "", "extra_groups": "", "at": ""}  # fmt: skip
    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:2000]
    assert answers["scim"].status_code == 200, answers["scim"].content
    person = Identity.objects.get(pk=grace.person.pk)
    held = (person.attributes.get("department"), person.attributes.get("company"))
    assert held == ("Marketing", "Beta")
    jobs = run_the_jobs(person)
    assert {job.status for job in jobs} == {Job.Status.SUCCEEDED}, jobs
    account = grace.entra_user(person.username)
    assert (account["department"], account["companyName"]) == ("Marketing", "Beta")
