"""Every change the foundation makes writes exactly one audit event, in its tenant's chain."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tenants.models import RoleTemplate, Tenant
from tests.factories import signed_in

ROLE_FORM = {
    "name": "Support",
    "description": "Helpdesk",
    "groups": "Support Team\nAll Staff",
    "licenses": "SPE_E3",
    "apps": "Zendesk",
    "department": "Support",
    "job_title": "Agent",
    "usage_location": "gb",
    "company": "",
    "office": "",
    "username_rule": "{f}{last}@{domain}",
    "domain": "alpha-eu.test",
}


def one_new_event(before: int, action: str, tenant=None) -> AuditEvent:
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.order_by("-pk").first()
    assert event.action == action
    if tenant is not None:
        assert event.tenant_id == tenant.pk
    return event


def test_create_role_template(client, alpha):
    client.force_login(alpha.technician)
    before = AuditEvent.objects.count()
    url = reverse("role_create", kwargs={"tenant": alpha.tenant.slug})
    assert client.post(url, ROLE_FORM).status_code == 302
    event = one_new_event(before, "role_template.create", alpha.tenant)
    template = RoleTemplate.objects.get(tenant=alpha.tenant, name="Support")
    assert template.groups == ["Support Team", "All Staff"] and template.usage_location == "GB"
    assert event.actor_username == "tech-alpha" and event.actor_user_id == alpha.technician.pk
    assert event.after["name"] == "Support"


def test_edit_clone_delete_role_template(client, alpha):
    client.force_login(alpha.technician)
    slug, pk = alpha.tenant.slug, alpha.template.pk
    before = AuditEvent.objects.count()
    url = reverse("role_edit", kwargs={"tenant": slug, "template_id": pk})
    assert client.post(url, {**alpha_gives(alpha), "name": "Renamed"}).status_code == 302
    event = one_new_event(before, "role_template.update", alpha.tenant)
    assert event.before["name"] == "Alpha Ltd Sales" and event.after["name"] == "Renamed"

    # What it gives changed: its member is asked again, their event (with the job) first,
    # as a deletion's: the member is locked before the tenant's audit head (converge24).
    before += 1
    assert client.post(url, {**ROLE_FORM, "name": "Renamed"}).status_code == 302
    assert AuditEvent.objects.count() == before + 2
    [update, member] = AuditEvent.objects.order_by("-pk")[:2]
    assert (update.action, member.action) == ("role_template.update", "identity.change")
    assert member.after == {"role_template_changed": "Renamed"} and member.job_id
    before += 2

    url = reverse("role_clone", kwargs={"tenant": slug, "template_id": pk})
    assert client.post(url, {"name": "Renamed 2"}).status_code == 302
    one_new_event(before, "role_template.copy", alpha.tenant)
    assert RoleTemplate.objects.get(name="Renamed 2").copied_from_id == pk

    before += 1  # the member's event first, while they have the template
    url = reverse("role_delete", kwargs={"tenant": slug, "template_id": pk})
    assert client.post(url).status_code == 302
    assert AuditEvent.objects.count() == before + 2
    assert AuditEvent.objects.order_by("-pk")[1].action == "identity.change"
    assert AuditEvent.objects.order_by("-pk").first().action == "role_template.delete"
    assert not RoleTemplate.objects.filter(pk=pk).exists()


def alpha_gives(alpha) -> dict:
    """The role form's fields as alpha's template holds them: an edit that changes its name."""
    form = {**ROLE_FORM}
    template = alpha.template
    for name in ("groups", "licenses", "apps"):
        form[name] = "\n".join(getattr(template, name))
    for name in ("department", "job_title", "usage_location", "company", "office", "domain"):
        form[name] = getattr(template, name)
    form["username_rule"] = template.username_rule
    return form


def test_copy_msp_template_into_tenant(client, alpha, msp_template):
    client.force_login(alpha.technician)
    before = AuditEvent.objects.count()
    url = reverse(
        "role_copy_from_msp",
        kwargs={"tenant": alpha.tenant.slug, "msp_template_id": msp_template.pk},
    )
    assert client.post(url, {"name": "Standard"}).status_code == 302
    one_new_event(before, "role_template.copy", alpha.tenant)
    copy = RoleTemplate.objects.get(tenant=alpha.tenant, name="Standard")
    assert copy.groups == ["All Staff"] and copy.copied_from == msp_template


def test_msp_admin_tenant_connection_and_staff_changes(client, msp_admin, alpha):
    signed_in(client, msp_admin)
    before = AuditEvent.objects.count()
    form = {
        "name": "Charlie Co",
        "slug": "",
        "primary_domain": "Charlie.TEST",
        "other_domains": "charlie.example\n",
        "default_usage_location": "us",
        "time_zone": "America/Chicago",
        "tags": "silver, okta",
        "notes": "",
        "is_active": "on",
    }
    assert client.post(reverse("tenant_create"), form).status_code == 302
    tenant = Tenant.objects.get(slug="charlie-co")
    assert tenant.primary_domain == "charlie.test" and tenant.tags == ["silver", "okta"]
    one_new_event(before, "tenant.create", tenant)

    url = reverse("connection_create", kwargs={"tenant": tenant.slug, "kind": "okta"})
    response = client.post(url, {"org_url": "https://charlie.okta.com", "secret": "tok-123"})
    assert response.status_code == 302
    one_new_event(before + 1, "connection.create", tenant)

    url = reverse("tenant_edit", kwargs={"tenant": tenant.slug})
    assert client.post(url, {**form, "slug": "charlie-co", "notes": "VIP"}).status_code == 302
    event = one_new_event(before + 2, "tenant.update", tenant)
    assert event.before["notes"] == "" and event.after["notes"] == "VIP"

    staff = {
        "username": "newtech",
        "first_name": "New",
        "last_name": "Tech",
        "email": "new@msp.test",
        "role": "technician",
        "tenants": [tenant.pk, alpha.tenant.pk],
        "password": "a-long-enough-passphrase-1",
        "is_active": "on",
    }
    assert client.post(reverse("staff_create"), staff).status_code == 302
    event = one_new_event(before + 3, "staff.create")
    assert sorted(event.after["tenants"]) == ["alpha", "charlie-co"]
    assert "passphrase" not in str(event.after)


@pytest.mark.parametrize(
    "role_attr,url_name",
    [
        ("account_manager", "role_create"),
        ("client_admin", "role_create"),
        ("technician", "tenant_edit"),
        ("technician", "connection_create"),
    ],
)
def test_wrong_role_gets_403_and_nothing_changes(client, alpha, role_attr, url_name):
    client.force_login(getattr(alpha, role_attr))
    kwargs = {"tenant": alpha.tenant.slug}
    if url_name == "connection_create":
        kwargs["kind"] = "okta"
    before = AuditEvent.objects.count()
    url = reverse(url_name, kwargs=kwargs)
    assert client.get(url).status_code == 403
    assert client.post(url, ROLE_FORM).status_code == 403
    # Nothing changed: the one new event is the refused POST itself, as a security event.
    refusals = AuditEvent.objects.filter(action="security.request_refused")
    assert AuditEvent.objects.count() == before + 1 and refusals.count() == 1


@pytest.mark.parametrize(
    "url_name", ["staff_list", "staff_create", "msp_role_create", "tenant_create"]
)
def test_staff_pages_are_msp_admin_only(client, alpha, url_name):
    for person in alpha.people.values():
        client.force_login(person)
        assert client.get(reverse(url_name)).status_code == 403


def test_reads_allowed_for_every_role_of_the_tenant(client, alpha):
    for person in alpha.people.values():
        client.force_login(person)
        response = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
        assert response.status_code == 200
        assert alpha.template.name in response.content.decode()


def test_dashboard_names_quarantined_connections_of_my_tenants_only(client, alpha, bravo):
    from django.utils import timezone

    for world, why in ((alpha, "27 of the last 50 calls failed"), (bravo, "Bravo is down")):
        world.connection.quarantined_at = timezone.now()
        world.connection.quarantine_reason = why
        world.connection.save()
    client.force_login(alpha.technician)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Connections in quarantine" in page and "27 of the last 50 calls failed" in page
    assert "Bravo is down" not in page


def test_a_verified_leave_records_the_status_change_and_the_scheduled_hard_delete(alpha):
    """The system changes the person (leaver -> left) and schedules their hard delete when
    a leave is verified: the job's job.finish event says both, beside the job's outcome."""
    from provisioning.engine.executor import end
    from provisioning.models import Identity, Job

    person = alpha.identity
    person.status, person.leave_options = Identity.Status.LEAVER, {"delete_after_days": 30}
    person.save()
    leave = Job.objects.create(
        tenant=alpha.tenant,
        identity=person,
        kind=Job.Kind.LEAVE,
        status=Job.Status.RUNNING,
        converged_version=person.desired_version,
    )
    end(leave, Job.Status.SUCCEEDED, {})
    event = AuditEvent.objects.get(action="job.finish", job_id=str(leave.pk))
    deletion = Job.objects.get(identity=person, kind=Job.Kind.DELETE)
    assert event.actor_kind == "system" and event.tenant_id == alpha.tenant.pk
    assert (event.target_type, event.target_id) == ("provisioning.identity", str(person.pk))
    assert event.before == {"person_status": "leaver"}
    assert event.after["status"] == "succeeded" and event.after["person_status"] == "left"
    assert event.after["hard_delete_job_id"] == deletion.pk
    assert event.after["hard_delete_not_before"] == deletion.not_before.isoformat()


def test_a_password_set_by_an_admin_is_in_the_staff_event(client, msp_admin, alpha):
    """An admin who sets someone's password could sign in as them: the trail must say the
    password was changed (never what to), and a plain edit must not look like one."""
    signed_in(client, msp_admin)
    person = alpha.technician
    url = reverse("staff_edit", kwargs={"person_id": person.pk})
    staff = {
        "username": person.username,
        "first_name": "Renamed",
        "last_name": person.last_name,
        "email": person.email or "tech@alpha.test",
        "role": "technician",
        "tenants": [alpha.tenant.pk],
        "password": "",
        "is_active": "on",
    }
    before = AuditEvent.objects.count()
    assert client.post(url, staff).status_code == 302
    plain = one_new_event(before, "staff.update")
    assert plain.after["first_name"] == "Renamed" and not plain.after.get("password_changed")

    assert client.post(url, {**staff, "password": "another-long-passphrase-2"}).status_code == 302
    event = one_new_event(before + 1, "staff.update")
    assert event.after["password_changed"] is True
    assert "passphrase" not in str(event.after)
