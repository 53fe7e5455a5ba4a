"""Requestable resources: the list, and the "Make requestable" form that offers the groups and
apps read live from sandbox directories over HTTPS (Entra ID and Okta), its settings (approvers,
time-bound, auto-approve rule, on/off), who may use it, and a directory that cannot be read."""

import uuid

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.access import services as ar
from provisioning.models import RequestableResource
from tests.factories import make_person
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db


def url(name: str, tenant, **kwargs) -> str:
    return reverse(name, kwargs={"tenant": tenant.slug, **kwargs})


@pytest.fixture
def dirs(on_sandbox):
    """A tenant on fresh Entra ID and Okta sandbox directories, with its staff."""
    slug = f"rq-{uuid.uuid4().hex[:8]}"
    found = make_directories(on_sandbox, slug, ("entra", "okta"))
    found.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [found.tenant])
    found.approver = make_person(f"ca-{slug}", Role.CLIENT_ADMIN, [found.tenant])
    found.other_approver = make_person(f"ca2-{slug}", Role.CLIENT_ADMIN, [found.tenant])
    return found


def offered(response) -> dict[str, dict[str, str]]:
    """Option group label -> {option label: value} of the picker."""
    groups = {}
    for label, options in response.context["form"].fields["pick"].choices[1:]:
        groups[label] = {name: value for value, name in options}
    return groups


def settings_data(**overrides) -> dict:
    data = {
        "pick": "",
        "description": "",
        "approvers": "client_admins",
        "max_days": "",
        "auto_approve_attribute": "",
        "auto_approve_value": "",
        "is_active": "on",
    } | overrides
    return {k: v for k, v in data.items() if v is not None}


def test_the_picker_offers_the_directories_groups_and_apps(client, dirs):
    client.force_login(dirs.technician)
    response = client.get(url("requestable_new", dirs.tenant))
    assert response.status_code == 200
    choices = offered(response)
    assert set(choices) == {
        "Microsoft Entra ID groups",
        "Microsoft Entra ID apps",
        "Okta groups",
        "Okta apps",
    }
    assert {"Staff", "Sales", "Finance", "VPN Users", "Managers"} <= set(
        choices["Microsoft Entra ID groups"]
    )
    assert (
        "Sales (dynamic)" not in choices["Microsoft Entra ID groups"]
    )  # nobody can be added to it
    assert "Everyone" not in choices["Okta groups"]  # Okta fills it by itself
    assert {"Salesforce", "Slack"} <= set(choices["Okta apps"])
    assert not response.context["unreadable"]


def test_a_technician_makes_a_group_requestable(client, dirs):
    client.force_login(dirs.technician)
    choices = offered(client.get(url("requestable_new", dirs.tenant)))
    vpn = choices["Microsoft Entra ID groups"]["VPN Users"]
    response = client.post(
        url("requestable_new", dirs.tenant),
        settings_data(
            pick=vpn,
            description="Remote access",
            approvers="named",
            named_approvers=[dirs.other_approver.pk],
            time_bound="on",
            max_days="14",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == url("requestable_list", dirs.tenant)
    resource = RequestableResource.objects.get()
    entra = dirs.tenant.connections.get(kind="entra")
    group = next(g for g in dirs.entra_state()["groups"] if g["displayName"] == "VPN Users")
    assert (resource.connection, resource.kind, resource.remote_id) == (entra, "group", group["id"])
    assert resource.name == "VPN Users" and resource.created_by == dirs.technician
    assert resource.time_bound and resource.max_days == 14
    assert list(resource.named_approvers.all()) == [dirs.other_approver]
    assert ar.approvers_of(resource) == [dirs.other_approver]
    event = AuditEvent.objects.get(action="requestable.create")
    assert event.after["named_approvers"] == [dirs.other_approver.username]
    # offered no more, and listed
    assert (
        "VPN Users"
        not in offered(client.get(url("requestable_new", dirs.tenant)))["Microsoft Entra ID groups"]
    )
    page = client.get(url("requestable_list", dirs.tenant)).content.decode()
    assert "VPN Users" in page and "at most 14 days" in page


def test_an_okta_app_with_an_auto_approve_rule(client, dirs, msp_admin):
    client.force_login(msp_admin)
    slack = offered(client.get(url("requestable_new", dirs.tenant)))["Okta apps"]["Slack"]
    response = client.post(
        url("requestable_new", dirs.tenant),
        settings_data(
            pick=slack, auto_approve_attribute="department", auto_approve_value=" Sales "
        ),
    )
    assert response.status_code == 302
    resource = RequestableResource.objects.get()
    assert resource.connection.kind == "okta" and resource.kind == "app"
    assert ar.rule_text(resource) == "department is “Sales”"
    page = client.get(url("requestable_list", dirs.tenant)).content.decode()
    assert "department is “Sales”" in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"pick": ""}, "pick", "This field is required."),
        ({"pick": "999:group:nope"}, "pick", "Choose a group or app from the list."),
        ({"time_bound": "on"}, "max_days", "Give the longest grant in days (1 to 365)."),
        ({"time_bound": "on", "max_days": "400"}, "max_days", "365"),
        ({"approvers": "named"}, "named_approvers", "Choose at least one of the tenant's"),
        ({"auto_approve_attribute": "department"}, "auto_approve_value", "Give the value"),
        ({"auto_approve_value": "Sales"}, "auto_approve_attribute", "Choose the attribute"),
        ({"auto_approve_attribute": "password"}, "auto_approve_attribute", "valid choice"),
        ({"description": "<script>"}, "description", "Use plain text"),
    ],
)
def test_bad_settings_are_named_and_save_nothing(client, dirs, overrides, field, message):
    client.force_login(dirs.technician)
    vpn = offered(client.get(url("requestable_new", dirs.tenant)))["Microsoft Entra ID groups"][
        "VPN Users"
    ]
    response = client.post(url("requestable_new", dirs.tenant), settings_data(pick=vpn) | overrides)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not RequestableResource.objects.exists()


def test_only_the_tenants_client_admins_can_be_named(client, dirs, bravo):
    client.force_login(dirs.technician)
    vpn = offered(client.get(url("requestable_new", dirs.tenant)))["Microsoft Entra ID groups"][
        "VPN Users"
    ]
    data = settings_data(pick=vpn, approvers="named", named_approvers=[bravo.client_admin.pk])
    response = client.post(url("requestable_new", dirs.tenant), data)
    assert response.status_code == 400
    assert "valid choice" in " ".join(response.context["form"].errors["named_approvers"])
    named = response.context["form"].fields["named_approvers"].queryset
    assert set(named) == {dirs.approver, dirs.other_approver}


def test_an_unreadable_directory_is_named_and_the_other_still_offered(client, dirs):
    okta = dirs.tenant.connections.get(kind="okta")
    okta.set_secret("wrong-token")
    okta.save()
    client.force_login(dirs.technician)
    response = client.get(url("requestable_new", dirs.tenant))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The Okta directory could not be read, so its groups and apps are not offered" in page
    assert set(offered(response)) == {"Microsoft Entra ID groups", "Microsoft Entra ID apps"}


def test_a_technician_edits_the_settings(client, dirs):
    entra = dirs.tenant.connections.get(kind="entra")
    resource = ar.save_requestable(
        RequestableResource(
            tenant=dirs.tenant, connection=entra, kind="group", remote_id="x", name="Finance"
        ),
        actor="system",
    )
    client.force_login(dirs.technician)
    edit = url("requestable_edit", dirs.tenant, resource_id=resource.pk)
    response = client.get(edit)
    assert response.status_code == 200 and "pick" not in response.context["form"].fields
    response = client.post(edit, settings_data(time_bound="on", max_days="7", is_active=None))
    assert response.status_code == 302
    resource.refresh_from_db()
    assert resource.time_bound and resource.max_days == 7 and not resource.is_active
    assert resource.remote_id == "x" and resource.name == "Finance"
    assert AuditEvent.objects.filter(action="requestable.update").count() == 1


# -- who ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_read_roles_list_but_do_not_manage(client, alpha, role):
    resource = ar.save_requestable(
        RequestableResource(
            tenant=alpha.tenant,
            connection=alpha.connection,
            kind="group",
            remote_id="g",
            name="Alpha VPN",
        ),
        actor="system",
    )
    client.force_login(alpha.people[role])
    page = client.get(url("requestable_list", alpha.tenant))
    assert page.status_code == 200 and "Alpha VPN" in page.content.decode()
    assert "Make requestable" not in page.content.decode()
    assert client.get(url("requestable_new", alpha.tenant)).status_code == 403
    edit = url("requestable_edit", alpha.tenant, resource_id=resource.pk)
    assert client.get(edit).status_code == 403
    assert client.post(edit, settings_data(is_active=None)).status_code == 403
    resource.refresh_from_db()
    assert resource.is_active


def test_another_tenants_people_get_404(client, alpha, bravo):
    resource = ar.save_requestable(
        RequestableResource(
            tenant=alpha.tenant, connection=alpha.connection, kind="app", remote_id="a", name="A"
        ),
        actor="system",
    )
    client.force_login(bravo.technician)
    assert client.get(url("requestable_list", alpha.tenant)).status_code == 404
    assert client.get(url("requestable_new", alpha.tenant)).status_code == 404
    edit = url("requestable_edit", alpha.tenant, resource_id=resource.pk)
    assert client.get(edit).status_code == 404
    # nor through their own tenant's URL
    theirs = url("requestable_edit", bravo.tenant, resource_id=resource.pk)
    assert client.post(theirs, settings_data()).status_code == 404
