"""SCIM, the API and the HR webhook change one person at the same instant, each from a thread
of its own released by a Barrier, each naming one attribute of its own (a company, a
department, an office), on the database's real locks (PostgreSQL in CI; convergence check
converge23). Each request answered 2xx stands in the person's desired state and, once the jobs
have run, in the directory's read-back; one refused (409: changed meanwhile) changed
nothing. tests/scim/test_scim_patch_crossing.py sets the one interleaving that lost a change."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from portal.models import Role
from provisioning.models import Identity, Job
from provisioning.scim import tokens
from tests.api.conftest import ApiClient, token_for
from tests.factories import make_person
from tests.provisioning.conftest import run_now
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_stopped_workers import alone_on_the_queue
from tests.provisioning.test_hr_webhook import send, with_secret

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["alone_on_the_queue"]  # a fixture: the jobs are run here, one at a time

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ROUNDS = 3
# What each entry point names, and the directory's attribute it ends in (Graph's user).
IN_ENTRA = {"company": "companyName", "department": "department", "office": "officeLocation"}


@pytest.fixture
def grace(on_sandbox, msp_admin):
    dirs = make_directories(on_sandbox, f"trio-{uuid.uuid4().hex[:8]}")
    domain = dirs.tenant.primary_domain
    dirs.person = Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Grace",
        last_name="Hopper",
        display_name="Grace Hopper",
        username=f"grace.hopper@{domain}",
        email=f"grace.hopper@{domain}",
        status=Identity.Status.ACTIVE,
        employee_id="E1906",
    )
    dirs.person.role_templates.set([dirs.template])
    with_secret(dirs.tenant)
    technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.api = ApiClient(token_for(technician))
    _, dirs.scim_token = tokens.issue(dirs.tenant, "Okta production", actor=msp_admin)
    return dirs


def scim_company(dirs, value: str) -> int:
    path = reverse("scim_user", kwargs={"tenant": dirs.tenant.slug, "user_id": dirs.person.pk})
    operation = {"op": "replace", "path": f"{ENTERPRISE}:organization", "value": value}
    response = Client().patch(
        path,
        data=json.dumps({"schemas": [PATCH], "Operations": [operation]}),
        content_type="application/scim+json",
        HTTP_AUTHORIZATION=f"Bearer {dirs.scim_token}",
    )
    return response.status_code


def api_department(dirs, value: str) -> int:
    path = f"/api/v1/people/{dirs.person.pk}/change"
    return dirs.api.post(path, {"department": value}).status_code


def hr_office(dirs, value: str) -> int:
    event = {"event": "change", "id": uuid.uuid4().hex, "employee_id": "E1906", "office": value}
    return send(Client(), dirs.tenant.slug, event).status_code


def at_once(calls: dict) -> dict[str, int]:
    """Each call from a thread of its own, released together: the status each answered."""
    start, answered, errors = threading.Barrier(len(calls)), {}, []

    def run(name, call):
        try:
            start.wait()
            answered[name] = call()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return answered


def test_three_entry_points_at_once_lose_no_accepted_change(grace):
    wanted: dict[str, str] = {}
    for round_ in range(ROUNDS):
        values = {name: f"{name.title()} {round_}" for name in IN_ENTRA}
        answered = at_once(
            {
                "company": lambda v=values["company"]: scim_company(grace, v),
                "department": lambda v=values["department"]: api_department(grace, v),
                "office": lambda v=values["office"]: hr_office(grace, v),
            }
        )
        assert answered["company"] == 200, answered
        assert {answered["department"], answered["office"]} <= {202, 409}, answered
        wanted |= {name: values[name] for name, status in answered.items() if status < 300}
        person = Identity.objects.get(pk=grace.person.pk)
        held = {name: person.attributes.get(name) for name in wanted}
        assert held == wanted, (round_, answered)

    for job in Job.objects.filter(identity=grace.person).order_by("desired_version"):
        run_now(job.pk)
    statuses = set(Job.objects.filter(identity=grace.person).values_list("status", flat=True))
    assert statuses == {Job.Status.SUCCEEDED}, statuses
    account = grace.entra_user(grace.person.username)
    assert {name: account[IN_ENTRA[name]] for name in wanted} == wanted
