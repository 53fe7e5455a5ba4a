"""The demo's promise end to end: a technician picks Northwind, fills the one onboarding form,
and the real worker makes the account in Entra ID, Okta and the SaaS app (SCIM); the job's
read-back names all three."""

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Job
from tenants.demo import SANDBOX_ENTRA, SANDBOX_OKTA
from tenants.models import Tenant
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.test_lifecycle_e2e import control_state, entra_user, okta_access

pytestmark = pytest.mark.django_db(transaction=True)


def scim_user(server, connection, user_name: str) -> tuple[dict, set]:
    """The app's user and the names of its groups, read as the app's admin would."""
    headers = {"Authorization": f"Bearer {connection.get_secret()}"}
    with httpx.Client(verify=str(server.ca), headers=headers) as http:
        found = http.get(
            f"{connection.scim_base_url}/Users", params={"filter": f'userName eq "{user_name}"'}
        ).raise_for_status()
        (user,) = found.json()["Resources"]
        groups = http.get(f"{connection.scim_base_url}/Groups").raise_for_status().json()
    members = {
        g["displayName"]
        for g in groups["Resources"]
        if any(m["value"] == user["id"] for m in g.get("members", []))
    }
    return user, members


def test_one_form_onboards_into_entra_okta_and_the_saas_app(client, on_sandbox, worker):
    call_command("seed_demo", verbosity=0)
    technician = get_user_model().objects.get(username="tech")
    client.force_login(technician)
    northwind = Tenant.objects.get(slug="northwind")
    office = northwind.role_templates.get(name="Office")
    app = northwind.connections.get(kind="scim")
    form = {
        "first_name": "Ada",
        "last_name": "Threefold",
        "role_templates": [office.pk],
        "start_date": timezone.localdate().isoformat(),
    }
    response = client.post(reverse("onboard", kwargs={"tenant": "northwind"}), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = wait_for_job(Job.objects.get(tenant=northwind, kind=Job.Kind.JOIN).pk)
    steps = list(job.steps.values_list("action", "target_name", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps
    upn = job.identity.username

    entra = entra_user(
        control_state(on_sandbox, "entra", SANDBOX_ENTRA["northwind"]["directory_id"]), upn
    )
    assert entra["accountEnabled"] and set(office.licenses) <= set(entra["licenses"])
    assert set(office.groups) <= set(entra["groups"])
    okta, okta_groups, _apps = okta_access(
        control_state(on_sandbox, "okta", SANDBOX_OKTA["northwind"]["org"]), upn
    )
    assert okta["status"] == "ACTIVE" and set(office.groups) <= okta_groups
    user, app_groups = scim_user(on_sandbox, app, upn)
    assert user["active"] and set(office.scim_groups_for(app.pk)) <= app_groups

    page = client.get(reverse("job_detail", kwargs={"job_id": job.pk})).content.decode()
    verification = page[page.index('id="job-verification"') :]
    readback = job.verification["directories"]
    assert set(readback) == {str(c.pk) for c in northwind.connections.all()}
    for connection in northwind.connections.all():
        account = readback[str(connection.pk)]["account"]
        assert account not in ("absent", "not managed"), (connection, account)
        assert connection.label in verification and account in verification
