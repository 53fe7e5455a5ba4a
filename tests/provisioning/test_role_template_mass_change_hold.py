"""A role template's deletion, or an edit that takes groups, licences or apps away, strips
them from every managed person who holds it: a mass change. When it reaches more people than
the tenant's circuit breaker lets one run offboard, it waits for an MSP admin's confirmation
as a bulk leavers' file does, nothing of it applied until then (attack18: it went through at
once, a Change job per holder, whoever asked)."""

import html

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.models import Batch, Identity, Job
from tenants.models import RoleTemplate
from tests.factories import make_joiner, signed_in
from tests.test_changes_audited import alpha_gives

pytestmark = pytest.mark.django_db


def _three_holders(alpha) -> None:
    make_joiner(alpha, "Mo")
    make_joiner(alpha, "Lu")  # with the world's own joiner, three; the limit is one


def _role_url(name: str, alpha) -> str:
    kwargs = {"tenant": alpha.tenant.slug, "template_id": alpha.template.pk}
    return reverse(name, kwargs=kwargs)


def _confirm(client, msp_admin, batch: Batch):
    signed_in(client, msp_admin)  # confirming asks for the password
    url = reverse("batch_confirm", kwargs={"tenant": batch.tenant.slug, "batch_id": batch.pk})
    return client.post(url, follow=True)


def _held_batch(alpha) -> Batch:
    [batch] = Batch.objects.filter(tenant=alpha.tenant, status=Batch.Status.HELD)
    return batch


def test_deleting_a_template_many_hold_waits_for_an_msp_admin(client, alpha, msp_admin):
    _three_holders(alpha)
    jobs_before = Job.objects.count()
    client.force_login(alpha.technician)

    response = client.post(_role_url("role_delete", alpha), follow=True)

    assert "needs an MSP admin's confirmation" in html.unescape(response.content.decode())
    assert RoleTemplate.objects.filter(pk=alpha.template.pk).exists()
    assert Identity.objects.filter(role_templates=alpha.template).count() == 3
    assert Job.objects.count() == jobs_before  # no holder asked again yet
    batch = _held_batch(alpha)
    assert alpha.template.name in batch.hold_reason and "3" in batch.hold_reason
    hold = AuditEvent.objects.get(action="batch.hold", tenant_id=alpha.tenant.pk)
    assert hold.after["role_template"] == alpha.template.name
    assert not AuditEvent.objects.filter(action="role_template.delete").exists()

    _confirm(client, msp_admin, batch)

    assert not RoleTemplate.objects.filter(pk=alpha.template.pk).exists()
    assert Job.objects.count() == jobs_before + 3
    deleted = AuditEvent.objects.get(action="role_template.delete")
    assert deleted.actor_user_id == msp_admin.pk
    assert AuditEvent.objects.filter(action="batch.confirm").count() == 1


def test_an_edit_that_takes_a_group_from_many_waits_and_changes_nothing(client, alpha, msp_admin):
    _three_holders(alpha)
    groups = list(alpha.template.groups)
    jobs_before = Job.objects.count()
    client.force_login(alpha.technician)
    form = {**alpha_gives(alpha), "name": "Renamed", "groups": ""}

    response = client.post(_role_url("role_edit", alpha), form, follow=True)

    assert "needs an MSP admin's confirmation" in html.unescape(response.content.decode())
    alpha.template.refresh_from_db()
    assert (alpha.template.name, alpha.template.groups) == ("Alpha Ltd Sales", groups)
    assert Job.objects.count() == jobs_before
    assert not AuditEvent.objects.filter(action="role_template.update").exists()

    _confirm(client, msp_admin, _held_batch(alpha))

    alpha.template.refresh_from_db()
    assert (alpha.template.name, alpha.template.groups) == ("Renamed", [])
    assert Job.objects.count() == jobs_before + 3
    assert AuditEvent.objects.get(action="role_template.update").actor_user_id == msp_admin.pk


def test_a_cancelled_hold_leaves_the_template_as_it_was(client, alpha):
    _three_holders(alpha)
    client.force_login(alpha.technician)
    client.post(_role_url("role_delete", alpha))
    batch = _held_batch(alpha)

    url = reverse("batch_cancel", kwargs={"tenant": alpha.tenant.slug, "batch_id": batch.pk})
    client.post(url)

    assert RoleTemplate.objects.filter(pk=alpha.template.pk).exists()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CANCELLED


def test_the_msp_admin_finds_the_held_change_on_the_schedule(client, alpha, msp_admin):
    _three_holders(alpha)
    client.force_login(alpha.technician)
    client.post(_role_url("role_delete", alpha))
    batch = _held_batch(alpha)

    client.force_login(msp_admin)
    page = client.get(reverse("tenant_schedule", kwargs={"tenant": alpha.tenant.slug}))

    body = html.unescape(page.content.decode())
    assert "Role template change" in body and batch.hold_reason in body
    assert (
        reverse("batch_confirm", kwargs={"tenant": alpha.tenant.slug, "batch_id": batch.pk}) in body
    )


def test_an_edit_that_only_adds_goes_through_at_once(client, alpha):
    _three_holders(alpha)
    client.force_login(alpha.technician)
    form = {**alpha_gives(alpha), "groups": "\n".join([*alpha.template.groups, "All Staff"])}

    client.post(_role_url("role_edit", alpha), form)

    alpha.template.refresh_from_db()
    assert "All Staff" in alpha.template.groups
    assert not Batch.objects.filter(tenant=alpha.tenant).exists()


def test_confirming_a_held_deletion_says_how_many_holders_it_asks_again(client, alpha, msp_admin):
    _three_holders(alpha)
    client.force_login(alpha.technician)
    client.post(_role_url("role_delete", alpha))

    response = _confirm(client, msp_admin, _held_batch(alpha))

    assert "3 jobs released" in html.unescape(response.content.decode())


def test_a_held_rename_to_a_name_taken_meanwhile_is_refused_and_stays_held(
    client, alpha, msp_admin
):
    _three_holders(alpha)
    client.force_login(alpha.technician)
    form = {**alpha_gives(alpha), "name": "Taken later", "groups": ""}
    client.post(_role_url("role_edit", alpha), form)
    batch = _held_batch(alpha)
    RoleTemplate.objects.create(tenant=alpha.tenant, name="Taken later")
    jobs_before = Job.objects.count()

    response = _confirm(client, msp_admin, batch)

    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "Not confirmed" in page and "Taken later" in page
    batch.refresh_from_db()
    alpha.template.refresh_from_db()
    assert batch.status == Batch.Status.HELD
    assert alpha.template.name == "Alpha Ltd Sales" and alpha.template.groups
    assert Job.objects.count() == jobs_before
    assert not AuditEvent.objects.filter(action="batch.confirm").exists()


def test_a_template_named_with_braces_is_held_by_its_name(client, alpha):
    _three_holders(alpha)
    RoleTemplate.objects.filter(pk=alpha.template.pk).update(name="Sales {EU} {0}")
    client.force_login(alpha.technician)

    response = client.post(_role_url("role_delete", alpha), follow=True)

    assert response.status_code == 200
    assert "“Sales {EU} {0}” takes what it gives from 3 of" in _held_batch(alpha).hold_reason


def _as_it_is(alpha) -> dict:
    """The role form as the template is: an edit of only what the test changes."""
    template = alpha.template
    return {**alpha_gives(alpha), "name": template.name, "description": template.description}


def test_a_held_edit_is_refused_when_its_fields_were_edited_meanwhile(client, alpha, msp_admin):
    """Confirming the held edit would silently undo the edit made while it waited (All Staff
    added at once, since it only adds): it is refused and stays held, the template as the
    later edit left it."""
    _three_holders(alpha)
    client.force_login(alpha.technician)
    client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "groups": ""})
    batch = _held_batch(alpha)
    added = "\n".join([*alpha.template.groups, "All Staff"])
    client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "groups": added})
    alpha.template.refresh_from_db()
    assert "All Staff" in alpha.template.groups
    jobs_before = Job.objects.count()

    response = _confirm(client, msp_admin, batch)

    page = html.unescape(response.content.decode())
    assert "Not confirmed" in page and "edited after this change was held" in page
    batch.refresh_from_db()
    alpha.template.refresh_from_db()
    assert batch.status == Batch.Status.HELD
    assert "All Staff" in alpha.template.groups
    assert Job.objects.count() == jobs_before
    assert not AuditEvent.objects.filter(action="batch.confirm").exists()


def test_a_held_edit_goes_ahead_when_only_other_fields_were_edited_meanwhile(
    client, alpha, msp_admin
):
    _three_holders(alpha)
    client.force_login(alpha.technician)
    client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "groups": ""})
    batch = _held_batch(alpha)
    client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "description": "Later"})

    _confirm(client, msp_admin, batch)

    alpha.template.refresh_from_db()
    assert (alpha.template.groups, alpha.template.description) == ([], "Later")
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED


def test_an_edit_of_a_template_deleted_meanwhile_brings_nothing_back(client, alpha, monkeypatch):
    """A held deletion confirmed while a technician's edit of the template is on its way: the
    edit's read of the row failed with a 500 (and a deletion a moment later, after that read,
    would have had the edit's save write the whole row back: Django inserts a row its UPDATE
    did not find). The edit now finds it gone under its lock: 404, and it stays deleted
    (attack21)."""
    from tenants import views_roles

    real_is_valid = views_roles.RoleTemplateForm.is_valid

    def deleted_meanwhile(form):
        RoleTemplate.objects.filter(pk=alpha.template.pk).delete()
        return real_is_valid(form)

    monkeypatch.setattr(views_roles.RoleTemplateForm, "is_valid", deleted_meanwhile)
    client.force_login(alpha.technician)

    response = client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "description": "x"})

    assert response.status_code == 404
    assert not RoleTemplate.objects.filter(pk=alpha.template.pk).exists()


def test_a_confirmed_template_change_cannot_be_marked_cancelled(client, alpha, msp_admin):
    """Cancelling a batch with nothing left to cancel (a held template change confirmed and
    applied) marked it cancelled, the schedule and the trail then saying an applied change was
    called off (attack21). It stays started, and the page says there is nothing to cancel."""
    _three_holders(alpha)
    client.force_login(alpha.technician)
    client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "groups": ""})
    batch = _held_batch(alpha)
    _confirm(client, msp_admin, batch)
    client.force_login(alpha.technician)

    url = reverse("batch_cancel", kwargs={"tenant": alpha.tenant.slug, "batch_id": batch.pk})
    response = client.post(url, follow=True)

    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    assert "nothing left to cancel" in html.unescape(response.content.decode())
    assert not AuditEvent.objects.filter(action="batch.cancel").exists()
