"""A leave asked of someone whose running leave ends between the channel's check and the
leave's lock (`lifecycle.request_offboarding` raises `HasLeft` under the lock).

The HR webhook accepts a terminate of a leaver (it re-times their leave), and the form's and
the API's refusals read the person and their running leave in two queries: a leave that ends
in between (the person LEFT) passed the check, and the ask then raised. The webhook
answered 500 with the event recorded nowhere (HR retries; the trail lost the first send), the
form and the API 500 too. Each now refuses as it does a person who has left.
"""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.lifecycle import views as lifecycle_views
from provisioning.models import Identity, Job
from provisioning.webhook import service as webhook_service
from provisioning.webhook.models import HRWebhookEvent
from tests.provisioning.bulk_support import OFFBOARD_OPTIONS
from tests.provisioning.test_hr_webhook import add_person, dirs, send, tenant, terminate

pytestmark = pytest.mark.django_db
__all__ = ["dirs", "tenant"]  # fixtures


def _leave_ends(person: Identity) -> None:
    """What the leave job's end commits meanwhile (`lifecycle.after_job`)."""
    Identity.objects.filter(pk=person.pk).update(status=Identity.Status.LEFT)


def test_a_terminate_whose_leaver_left_meanwhile_is_refused_and_recorded(
    client, dirs, tenant, monkeypatch
):
    person = add_person(tenant, dirs.template, "E77", status=Identity.Status.LEAVER)
    prepare = webhook_service.prepare

    def then_the_leave_ends(*args, **kwargs):
        action = prepare(*args, **kwargs)
        _leave_ends(person)
        return action

    monkeypatch.setattr(webhook_service, "prepare", then_the_leave_ends)
    jobs = Job.objects.count()
    response = send(client, tenant.slug, terminate("E77"))

    assert response.status_code == 422, response.content
    assert "has left" in response.json()["message"]
    assert Job.objects.count() == jobs
    event = HRWebhookEvent.objects.get()
    assert event.outcome == HRWebhookEvent.Outcome.REJECTED
    assert AuditEvent.objects.filter(action="hr_webhook.reject").count() == 1
    assert not AuditEvent.objects.filter(action="identity.offboard")


def test_the_offboarding_form_of_someone_who_left_meanwhile_says_so(client, alpha, monkeypatch):
    person = alpha.identity
    refusal = lifecycle_views._refusal

    def then_the_leave_ends(identity, state):
        answer = refusal(identity, state)
        _leave_ends(person)
        return answer

    monkeypatch.setattr(lifecycle_views, "_refusal", then_the_leave_ends)
    client.force_login(alpha.technician)
    url = reverse("offboard", kwargs={"tenant": alpha.tenant.slug, "identity_id": person.pk})
    response = client.post(url, OFFBOARD_OPTIONS | {"when": "now"}, follow=True)

    assert response.status_code == 200
    assert "has already left" in response.content.decode()
    assert not Job.objects.filter(identity=person, kind=Job.Kind.LEAVE).exists()
