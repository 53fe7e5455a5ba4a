"""Job steps, dry runs and the audit trail name a licence by Microsoft's product name beside
its part number, as the seat and role template pages do (leftover2): "Assign licence
SPE_E3" read as a code. Render-time only: a stored, hashed audit event keeps what it held."""

import pytest
from django.urls import reverse

from portal.audit.events import record
from portal.audit.models import AuditEvent
from provisioning.lifecycle.views import _operation
from provisioning.models import Step
from provisioning.seats import with_seats

pytestmark = pytest.mark.django_db

E3 = '<span class="sku-name">Microsoft 365 E3</span> <span class="mono muted">SPE_E3</span>'


def _licence_step(world, action=Step.Action.ASSIGN_LICENSE) -> Step:
    return Step.objects.create(
        job=world.job,
        connection=world.connection,
        order=2,
        action=action,
        target_name="SPE_E3",
        params={"sku_id": "05e9a617-0261-4cee-bb44-138d3ef5d965"},
        status=Step.Status.FAILED,
    )


def test_the_job_page_names_a_steps_licence(client, alpha):
    _licence_step(alpha)
    client.force_login(alpha.technician)
    page = client.get(reverse("job_detail", kwargs={"job_id": alpha.job.pk})).content.decode()
    assert f"Assign licence <strong>{E3}</strong>" in page


def test_dry_runs_name_the_licence_beside_its_part_number_and_seats():
    assert with_seats("SPE_E3", {"SPE_E3": 12}) == "SPE_E3 (12 available) — Microsoft 365 E3"
    assert with_seats("VISIO", {"VISIO": 1}) == "VISIO (1 available)"  # not in the table
    step = Step(action=Step.Action.REMOVE_LICENSE, target_name="SPE_E3", params={})
    assert _operation(step) == "Remove licence SPE_E3 — Microsoft 365 E3"


def test_the_audit_trail_names_the_licence_and_keeps_the_stored_event(client, alpha, msp_admin):
    event = record(
        "directory.assign_license",
        actor="system",
        tenant=alpha.tenant,
        target=alpha.identity,
        after={"directory": "Microsoft Entra ID", "target": "SPE_E3", "attempt": 1},
        job_id=alpha.job.pk,
    )
    client.force_login(msp_admin)
    page = client.get(reverse("audit_list"), {"job": alpha.job.pk}).content.decode()
    assert "SPE_E3 — Microsoft 365 E3" in page
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.after["target"] == "SPE_E3" and stored.hash == event.hash


def test_the_dashboards_failed_step_names_the_licence(client, alpha, msp_admin):
    Step.objects.filter(job=alpha.job).delete()  # its first failed step is the licence's
    _licence_step(alpha, Step.Action.REMOVE_LICENSE)
    client.force_login(msp_admin)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Remove licence SPE_E3 — Microsoft 365 E3" in page
