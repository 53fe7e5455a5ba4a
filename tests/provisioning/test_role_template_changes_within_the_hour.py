"""Role template changes that take access count together within the circuit breaker's hour
(attack23): each deletion, or edit taking groups, licences or apps, was judged alone, so a
technician (or a session taken without the password) stripped a tenant's people template by
template, each under the limit, where split offboarding files and scope saves are held as
the whole would be."""

import html

import pytest
from django.urls import reverse

from provisioning.models import Batch, Identity, Job
from tenants.models import RoleTemplate
from tests.factories import make_identity, make_joiner
from tests.test_changes_audited import alpha_gives

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_templates(alpha):
    """Alpha's Sales template held by two people, a Support template by two others; the
    tenant lets one run reach two people."""
    alpha.tenant.offboard_hold_count, alpha.tenant.offboard_hold_percent = 2, 100
    alpha.tenant.save(update_fields=["offboard_hold_count", "offboard_hold_percent"])
    make_joiner(alpha, "Mo")
    support = RoleTemplate.objects.create(
        tenant=alpha.tenant, name="Support", groups=["Support Team"], apps=["Zendesk"]
    )
    for first in ("Lu", "Ki"):
        make_identity(alpha.tenant, first, "Helpdesk").role_templates.set([support])
    return alpha.template, support


def _url(name: str, template: RoleTemplate) -> str:
    kwargs = {"tenant": template.tenant.slug, "template_id": template.pk}
    return reverse(name, kwargs=kwargs)


def _held(alpha) -> list[Batch]:
    return list(Batch.objects.filter(tenant=alpha.tenant, status=Batch.Status.HELD))


def test_deleting_templates_one_by_one_is_held_once_they_reach_the_limit_together(
    client, alpha, two_templates
):
    sales, support = two_templates
    client.force_login(alpha.technician)
    client.post(_url("role_delete", sales))  # two holders: the limit, not past it
    assert not RoleTemplate.objects.filter(pk=sales.pk).exists()
    jobs = Job.objects.count()

    response = client.post(_url("role_delete", support), follow=True)

    body = html.unescape(response.content.decode())
    assert "needs an MSP admin's confirmation" in body
    assert RoleTemplate.objects.filter(pk=support.pk).exists()
    assert Job.objects.count() == jobs  # Lu and Ki keep what Support gives until confirmed
    [batch] = _held(alpha)
    assert "within the hour (2 by earlier asks)" in batch.hold_reason


def test_edits_of_several_templates_taking_access_are_held_together(client, alpha, two_templates):
    sales, support = two_templates
    client.force_login(alpha.technician)
    client.post(_url("role_edit", sales), {**alpha_gives(alpha), "name": sales.name, "groups": ""})
    sales.refresh_from_db()
    assert sales.groups == []  # saved: two holders

    form = {**alpha_gives(alpha), "name": "Support", "groups": "", "apps": ""}
    response = client.post(_url("role_edit", support), form, follow=True)

    assert "needs an MSP admin's confirmation" in html.unescape(response.content.decode())
    support.refresh_from_db()
    assert (support.groups, support.apps) == (["Support Team"], ["Zendesk"])
    assert len(_held(alpha)) == 1


def test_a_change_that_takes_nothing_does_not_count(client, alpha, two_templates):
    sales, support = two_templates
    client.force_login(alpha.technician)
    added = {**alpha_gives(alpha), "name": sales.name}
    added["groups"] = "\n".join([*sales.groups, "Newsletter"])
    client.post(_url("role_edit", sales), added)  # gives more: takes nothing from anyone

    client.post(_url("role_delete", support))

    assert not RoleTemplate.objects.filter(pk=support.pk).exists()
    assert _held(alpha) == []


def test_a_cancelled_held_change_does_not_count(client, alpha, two_templates):
    sales, support = two_templates
    make_joiner(alpha, "Jo")  # Sales: three holders, past the limit
    client.force_login(alpha.technician)
    client.post(_url("role_delete", sales))
    [batch] = _held(alpha)
    client.post(reverse("batch_cancel", kwargs={"tenant": alpha.tenant.slug, "batch_id": batch.pk}))

    client.post(_url("role_delete", support))

    assert not RoleTemplate.objects.filter(pk=support.pk).exists()
    assert Identity.objects.filter(role_templates=sales).count() == 3


def test_a_change_gone_ahead_cannot_be_cancelled_out_of_the_count(client, alpha, two_templates):
    sales, support = two_templates
    client.force_login(alpha.technician)
    client.post(_url("role_delete", sales))
    [kept] = Batch.objects.filter(tenant=alpha.tenant, status=Batch.Status.STARTED)
    client.post(reverse("batch_cancel", kwargs={"tenant": alpha.tenant.slug, "batch_id": kept.pk}))
    kept.refresh_from_db()
    assert kept.status == Batch.Status.STARTED

    client.post(_url("role_delete", support))

    assert RoleTemplate.objects.filter(pk=support.pk).exists()
    assert len(_held(alpha)) == 1
