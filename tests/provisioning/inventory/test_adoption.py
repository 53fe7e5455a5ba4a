"""Adoption against the sandbox: people made in Entra and Okta before the portal knew them
are read into the inventory, adopted with a role template and exceptions for the rest, and
a reconciliation then finds nothing to do and sends no write. Refusals save nothing; the
obvious template is suggested first; an adopted leaver stays disabled; offboarding an
unmanaged account adopts and disables it."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from portal.audit.models import AuditEvent
from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser
from provisioning.connectors.factory import connector_for
from provisioning.inventory import (
    adoption,
    adoption_bulk,
    adoption_draft,
    adoption_suggest,
    drift,
    service,
)
from provisioning.inventory.models import Account, Cursor, Drift, Person, Policy
from provisioning.jobs import new_job
from provisioning.lifecycle import services as lifecycle
from provisioning.models import DirectoryAccount, Identity, Job
from tenants.models import RoleTemplate
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories, user_role
from tests.provisioning.scim_apps import connect, make_app

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


@pytest.fixture
def dirs(on_sandbox):
    made = make_directories(on_sandbox, f"adopt{uuid.uuid4().hex[:8]}", kinds=("entra", "okta"))
    RoleTemplate.objects.create(
        tenant=made.tenant, name="Finance", groups=["Staff", "Finance"], apps=["Slack"]
    )
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/entra/{made.entra_id}")
        control.delete(f"/_sandbox/okta/{made.okta_id}")


def graph_ok(dirs, method: str, path: str, body: dict | None = None) -> dict:
    response = dirs.graph(method, path, body)
    assert response.status_code < 300, response.text
    return response.json() if response.content else {}


def ids_by_name(dirs, path: str, name_key: str, id_key: str = "id") -> dict[str, str]:
    return {item[name_key]: item[id_key] for item in graph_ok(dirs, "GET", path)["value"]}


def entra_person(dirs, name: str, *, groups=(), skus=(), apps=(), **fields) -> dict:
    """Someone an admin made in Entra before the portal, with their access."""
    upn = f"{name}@{dirs.tenant.primary_domain}"
    user = dirs.add_entra_user(upn, name.title(), "Existing")
    graph_ok(dirs, "PATCH", f"/users/{user['id']}", {"usageLocation": "GB", **fields})
    group_ids = ids_by_name(dirs, "/groups", "displayName")
    for group in groups:
        ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{user['id']}"}
        graph_ok(dirs, "POST", f"/groups/{group_ids[group]}/members/$ref", ref)
    if skus:
        sku_ids = ids_by_name(dirs, "/subscribedSkus", "skuPartNumber", "skuId")
        body = {
            "addLicenses": [{"skuId": sku_ids[s], "disabledPlans": []} for s in skus],
            "removeLicenses": [],
        }
        graph_ok(dirs, "POST", f"/users/{user['id']}/assignLicense", body)
    app_ids = ids_by_name(dirs, "/servicePrincipals", "displayName")
    for app in apps:
        body = {
            "principalId": user["id"],
            "resourceId": app_ids[app],
            "appRoleId": user_role(dirs, app_ids[app]),
        }
        graph_ok(dirs, "POST", f"/servicePrincipals/{app_ids[app]}/appRoleAssignedTo", body)
    return user


def okta_person(dirs, name: str, *, groups=(), apps=(), **attributes):
    """The same person's Okta account, made through the Okta API."""
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    upn = f"{name}@{dirs.tenant.primary_domain}"
    new = NewUser(
        username=upn,
        first_name=name.title(),
        last_name="Existing",
        display_name=f"{name.title()} Existing",
        email=upn,
        password="Okta-Existing-Pa55!",
        attributes={"usage_location": "GB", **attributes},
    )
    user = bridge.run(okta.create_user(new))
    group_ids = {g.name: g.id for g in bridge.run(okta.groups())}
    app_ids = {a.name: a.id for a in bridge.run(okta.apps())}
    for group in groups:
        bridge.run(okta.add_to_group(user.id, group_ids[group]))
    for app in apps:
        bridge.run(okta.assign_app(user.id, app_ids[app]))
    return user


def read_inventory(dirs) -> None:
    """Full reads of both directories; each ends with scope and matching."""
    for connection in dirs.tenant.connections.all():
        cursor = service.refresh(connection, sleep=time.sleep)
        assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor.last_error


def person(dirs, name: str) -> Person:
    return Person.objects.get(tenant=dirs.tenant, username=f"{name}@{dirs.tenant.primary_domain}")


def writes(before: dict, after: dict) -> dict:
    """Calls that change something, by route (a $batch counts by what it carried)."""
    return {
        route: n - before["calls"].get(route, 0)
        for route, n in after["calls"].items()
        if route.startswith(WRITE_METHODS)
        and "$batch" not in route
        and "/token" not in route
        and n != before["calls"].get(route, 0)
    }


def reconcile(identity: Identity) -> Job:
    job = new_job(identity, Job.Kind.RECONCILE, {}, actor="system", at=None, batch=None, hold=False)
    return drive(job)


def make_ada(dirs) -> None:
    """Sales as the template says, plus VPN Users in Entra and Slack in Okta besides."""
    entra_person(
        dirs,
        "ada",
        groups=["Staff", "Sales", "VPN Users"],
        skus=["SPE_E3"],
        apps=["Salesforce"],
        department="Sales",
        jobTitle="Account Executive",
    )
    okta_person(
        dirs,
        "ada",
        groups=["Staff", "Sales"],
        apps=["Salesforce", "Slack"],
        department="Sales",
        job_title="Account Executive",
    )


@pytest.fixture
def ada(dirs):
    make_ada(dirs)
    read_inventory(dirs)  # a full read: app assignments are read with full reads
    return person(dirs, "ada")


def test_adoption_records_exceptions_and_a_reconciliation_changes_nothing(dirs, ada):
    suggestions = adoption_suggest.suggest_templates(ada)
    assert [s.template.name for s in suggestions] == ["Sales", "Finance"]
    sales = suggestions[0]
    assert sales.changes_nothing and sales.adds == {}
    assert set(sales.explains["groups"]) == {"Staff", "Sales"}
    assert sales.explains["licenses"] == ["SPE_E3"]
    assert "Would add" in suggestions[1].note  # Finance: the Finance group they lack

    identity = adoption.adopt(ada, [sales.template], "system", reason="takeover")

    entra = dirs.tenant.connections.get(kind="entra")
    okta = dirs.tenant.connections.get(kind="okta")
    assert identity.status == Identity.Status.ACTIVE
    assert (identity.username, identity.first_name) == (ada.username, "Ada")
    assert identity.attributes["department"] == "Sales"
    exceptions = identity.access_exceptions
    assert [g["name"] for g in exceptions[str(entra.pk)]["groups"]] == ["VPN Users"]
    assert [a["name"] for a in exceptions[str(okta.pk)]["apps"]] == ["Slack"]
    assert "licenses" not in exceptions[str(entra.pk)]
    links = {a.connection_id: a for a in identity.accounts.all()}
    assert set(links) == {entra.pk, okta.pk} and all(a.remote_id for a in links.values())
    assert {g["name"] for g in links[entra.pk].managed["groups"]} == {"Staff", "Sales"}
    ada.refresh_from_db()
    assert Person.objects.get(identity=identity).accounts.count() == 2
    event = AuditEvent.objects.get(action="inventory.adopted", target_id=str(identity.pk))
    assert event.after["role_templates"] == ["Sales"] and event.after["reason"] == "takeover"
    drift.detect(dirs.tenant)  # the drift report finds nothing to say about them
    assert not Drift.objects.filter(identity=identity, status__in=Drift.OPEN_STATES).exists()

    before = {kind: dirs.stats(kind) for kind in ("entra", "okta")}
    job = reconcile(identity)
    after = {kind: dirs.stats(kind) for kind in ("entra", "okta")}

    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.steps.count() == 0
    assert {kind: writes(before[kind], after[kind]) for kind in before} == {
        "entra": {},
        "okta": {},
    }
    read = job.verification["directories"][str(entra.pk)]
    # Staff, Sales, VPN Users and the rule-based Sales group; the licence; Salesforce
    assert (read["enabled"], read["groups"], read["licenses"], read["apps"]) == (True, 4, 1, 1)


def test_a_disabled_account_is_adopted_as_a_leaver_and_stays_as_it_is(dirs):
    user = entra_person(dirs, "cy", groups=["Staff"], department="Ops")
    graph_ok(dirs, "PATCH", f"/users/{user['id']}", {"accountEnabled": False})
    okta_user = okta_person(dirs, "cy", groups=["Staff"], department="Ops")
    bridge.run(connector_for(dirs.tenant.connections.get(kind="okta")).disable_user(okta_user.id))
    read_inventory(dirs)

    identity = adoption.adopt(person(dirs, "cy"), [], "system")

    assert identity.status == Identity.Status.LEFT
    assert identity.leave_options["block_sign_in"] is True
    assert not identity.leave_options["remove_groups"]
    before = dirs.stats("entra")
    job = reconcile(identity)
    assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, job.error
    assert writes(before, dirs.stats("entra")) == {}
    assert dirs.entra_user(user["userPrincipalName"])["groups"] == ["Staff"]


def test_refusals_save_nothing(dirs, ada):
    entra_person(dirs, "svc-backup", groups=["Staff"])
    entra_person(dirs, "bob", groups=["Staff", "Finance"], department="Finance")
    read_inventory(dirs)
    identities = Identity.objects.count()

    service_account = person(dirs, "svc-backup")
    with pytest.raises(adoption.AdoptionRefused, match="Out of scope"):
        adoption.adopt(service_account, [], "system")

    # Matched by mail, someone managed may hold Bob's username with another address.
    Policy.objects.update_or_create(tenant=dirs.tenant, defaults={"match_on": "mail"})
    bob = person(dirs, "bob")
    Identity.objects.create(
        tenant=dirs.tenant,
        first_name="Other",
        last_name="Bob",
        display_name="Other Bob",
        username=bob.username.upper(),
        email="other@example.com",
    )
    with pytest.raises(adoption.AdoptionRefused, match="belongs to Other Bob"):
        adoption.adopt(bob, [], "system")

    sales = RoleTemplate.objects.get(tenant=dirs.tenant, name="Finance")
    with pytest.raises(adoption.AdoptionRefused) as refused:
        adoption.adopt(ada, [sales], "system")  # would add the Finance group
    assert any("add group Finance" in c for c in refused.value.changes)

    assert Identity.objects.count() == identities + 1  # only the one made above
    assert not DirectoryAccount.objects.filter(identity__tenant=dirs.tenant).exists()
    assert not AuditEvent.objects.filter(action="inventory.adopted").exists()

    managed = adoption.adopt(ada, [], "system")
    with pytest.raises(adoption.AdoptionRefused, match="managed already"):
        adoption.adopt(Person.objects.get(identity=managed), [], "system")


def test_offboarding_an_unmanaged_account_adopts_it_and_disables_it(dirs, ada):
    options = lifecycle.OffboardingOptions(delete_after_days=None, remove_groups=False)
    sales = RoleTemplate.objects.get(tenant=dirs.tenant, name="Sales")

    job = adoption.offboard(ada, [sales], options, "system")

    identity = job.identity
    assert identity.status == Identity.Status.LEAVER
    assert drive(job).status == Job.Status.SUCCEEDED, job.error
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEFT
    upn = ada.username
    user = dirs.entra_user(upn)
    assert user["accountEnabled"] is False
    assert user["licenses"] == [] and user["appRoleAssignments"] == []
    assert {"Staff", "Sales", "VPN Users"} <= set(user["groups"])  # groups kept
    assert dirs.okta_user(upn)["status"] == "SUSPENDED"
    assert Account.objects.filter(person__identity=identity).count() == 2


def test_bulk_preview_counts_what_adopting_many_does(dirs):
    make_ada(dirs)
    # Finance as the template says, in both directories: adopted with it by itself
    entra_person(dirs, "dan", groups=["Staff", "Finance"], apps=["Slack"])
    okta_person(dirs, "dan", groups=["Staff", "Finance"], apps=["Slack"])
    # only in Entra: adopted, managed in Entra only (no Okta account is created for him)
    entra_person(dirs, "bob", groups=["Staff"])
    entra_person(dirs, "svc-backup", groups=["Staff"])  # out of scope
    read_inventory(dirs)
    everyone = Person.objects.filter(tenant=dirs.tenant)

    preview = adoption_bulk.preview_adoption(dirs.tenant, everyone)

    assert (preview.selected, preview.adoptable) == (4, 3)
    assert preview.templates == {"Sales": 1, "Finance": 1} and preview.without_template == 1
    assert preview.refused == {adoption_draft.OUT_OF_SCOPE: 1}
    rows = {row.person.username.split("@")[0]: row for row in preview.samples}
    assert (rows["bob"].refusal, rows["bob"].directories) == ("", ["Microsoft Entra ID"])
    assert rows["ada"].directories == ["Microsoft Entra ID", "Okta"]
    in_scope = adoption_bulk.preview_adoption(dirs.tenant)  # everything in scope
    assert (in_scope.selected, in_scope.adoptable) == (3, 3)

    result = adoption_bulk.adopt_many(dirs.tenant, everyone.values_list("pk", flat=True), "system")

    assert result.adopted == preview.adoptable and result.refused == preview.refused
    adopted = Identity.objects.filter(tenant=dirs.tenant).order_by("username")
    assert [
        (i.username.split("@")[0], [t.name for t in i.role_templates.all()]) for i in adopted
    ] == [
        ("ada", ["Sales"]),
        ("bob", []),
        ("dan", ["Finance"]),
    ]
    entra = dirs.tenant.connections.get(kind="entra")
    bob = adopted.get(username__startswith="bob@")
    assert bob.directories == [entra.pk]
    assert AuditEvent.objects.filter(action="inventory.adopted").count() == 3
    summary = AuditEvent.objects.get(action="inventory.adopted_many")
    assert summary.after["adopted"] == 3 and summary.after["selected"] == 4
    before = dirs.stats("okta")
    job = reconcile(bob)
    assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, job.error
    assert dirs.okta_user(bob.username) is None and writes(before, dirs.stats("okta")) == {}
    again = adoption_bulk.adopt_many(dirs.tenant, preview.person_ids, "system")
    assert again.adopted == 0 and again.refused == {adoption_draft.MANAGED_ALREADY: 3}


def test_bulk_adoption_takes_no_template_that_would_set_an_attribute_they_lack(dirs):
    """Eve holds what Finance gives, in Okta only, with no usage location: Finance would set
    its own there, so bulk adoption takes her with no template (her access as exceptions)
    rather than leaving her out as "would change their accounts"."""
    RoleTemplate.objects.filter(tenant=dirs.tenant, name="Finance").update(usage_location="DE")
    okta_person(dirs, "eve", groups=["Staff", "Finance"], apps=["Slack"], usage_location="")
    read_inventory(dirs)
    eve = Person.objects.filter(tenant=dirs.tenant, username__startswith="eve@")

    preview = adoption_bulk.preview_adoption(dirs.tenant, eve)

    assert (preview.adoptable, preview.without_template, preview.refused) == (1, 1, {})
    result = adoption_bulk.adopt_many(dirs.tenant, preview.person_ids, "system")
    assert result.adopted == 1 and result.templates == {"": 1}
    adopted = Identity.objects.get(tenant=dirs.tenant, username__startswith="eve@")
    before = dirs.stats("okta")
    job = reconcile(adopted)
    assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, job.error
    assert writes(before, dirs.stats("okta")) == {}


def entra_sales_person_beside_slack(on_sandbox):
    """A tenant of one Entra directory and the SCIM app Slack, and Ada in Entra as the Sales
    template gives her (no Slack account yet): the tenant's directories and the app."""
    made = make_directories(on_sandbox, f"adoptscim{uuid.uuid4().hex[:6]}", kinds=("entra",))
    app = make_app(on_sandbox, "slack")
    connect(made.tenant, app)
    entra_person(
        made,
        "ada",
        groups=["Staff", "Sales"],
        skus=["SPE_E3"],
        apps=["Salesforce"],
        department="Sales",
        jobTitle="Account Executive",
    )
    return made, app


def test_a_scim_app_no_template_gives_is_no_account_to_create(on_sandbox):
    """A SCIM app holds an account only when a template or grant gives it (engine/desired.py
    `in_app`): someone whose template gives no Slack is adopted without one, as the engine's
    builder would leave them, not refused as "create an account in Slack"."""
    made, _ = entra_sales_person_beside_slack(on_sandbox)
    read_inventory(made)
    ada = person(made, "ada")

    assert adoption_draft.draft(ada, [made.template]).changes == []
    preview = adoption_bulk.preview_adoption(made.tenant)
    assert (preview.selected, preview.adoptable) == (1, 1), preview.refused
    identity = adoption.adopt(ada, [made.template], "system")
    assert [a.connection.kind for a in identity.accounts.select_related("connection")] == ["entra"]


def test_a_template_is_judged_in_a_scim_app_by_what_it_gives_there(on_sandbox):
    """A template's directory groups, licences and apps are not an app's: someone with an
    Entra account as Sales gives it and a Slack account is not told Sales "names access
    their directory does not have (Staff, Sales, SPE_E3, Salesforce): a job would stop"."""
    made, app = entra_sales_person_beside_slack(on_sandbox)
    app.add_user(f"ada@{made.tenant.primary_domain}", "Ada", "Existing")
    read_inventory(made)
    ada = person(made, "ada")
    assert {a.connection.kind for a in ada.accounts.select_related("connection")} == {
        "entra",
        "scim",
    }

    sales = next(s for s in adoption_suggest.suggest_templates(ada) if s.template == made.template)
    assert sales.unknown == {} and not sales.adds, sales.note


def test_no_usage_location_of_their_own_gets_none_on_adoption_or_a_move(dirs):
    """Neither account holds a usage location: the tenant's default (GB) is for the people the
    portal makes, not a change that adopting, reconciling or a later move may make."""
    upn = f"eve@{dirs.tenant.primary_domain}"
    dirs.add_entra_user(upn, "Eve", "Existing")
    okta = connector_for(dirs.tenant.connections.get(kind="okta"))
    new = NewUser(
        username=upn,
        first_name="Eve",
        last_name="Existing",
        display_name="Eve Existing",
        email=upn,
        password="Okta-Existing-Pa55!",
        attributes={},
    )
    bridge.run(okta.create_user(new))
    read_inventory(dirs)

    assert adoption_bulk.preview_adoption(dirs.tenant).adoptable == 1
    identity = adoption.adopt(person(dirs, "eve"), [], "system")  # nothing to confirm
    job = reconcile(identity)
    assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, job.error

    finance = RoleTemplate.objects.get(tenant=dirs.tenant, name="Finance")
    # the change form's attributes: its blank fields left out
    mine = {k: v for k, v in identity.attributes.items() if v}
    change = lifecycle.ChangeRequest(role_templates=[finance], attributes=mine)
    preview = lifecycle.preview_change(identity, change)
    planned = [s.action for _, plan, _ in preview.plans for s in plan.steps]
    assert "add_group" in planned and "update_user" not in planned
    moved = drive(lifecycle.request_change(identity, change, actor="system"))
    assert moved.status == Job.Status.SUCCEEDED, moved.error
    assert "update_user" not in {s.action for s in moved.steps.all()}
    assert dirs.entra_user(upn)["usageLocation"] is None
    assert "countryCode" not in dirs.okta_user(upn)["profile"]


@pytest.fixture
def okta_only(on_sandbox):
    made = make_directories(on_sandbox, f"adopt{uuid.uuid4().hex[:8]}", kinds=("okta",))
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/okta/{made.okta_id}")


def test_an_okta_user_whose_password_expired_is_adopted_as_someone_who_signs_in(okta_only):
    """Okta's PASSWORD_EXPIRED (like LOCKED_OUT and PROVISIONED) still lets its person sign
    in, as the engine reads it: the inventory must not call it disabled, or adoption makes
    them a leaver and the first reconciliation suspends them."""
    dirs = okta_only
    user = okta_person(dirs, "fay", groups=["Staff"])
    okta = dirs.tenant.connections.get(kind="okta")
    expired = httpx.post(
        f"{okta.org_url}/api/v1/users/{user.id}/lifecycle/expire_password",
        headers={"Authorization": f"SSWS {okta.get_secret()}"},
        verify=str(dirs.server.ca),
    )
    assert expired.status_code == 200, expired.text
    read_inventory(dirs)
    fay = person(dirs, "fay")
    assert fay.enabled

    identity = adoption.adopt(fay, [], "system")

    assert identity.status == Identity.Status.ACTIVE
    job = reconcile(identity)
    assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, job.error
    assert dirs.okta_user(fay.username)["status"] == "PASSWORD_EXPIRED"


def test_an_okta_user_without_a_display_name_is_adopted_and_left_without_one(okta_only):
    """Okta's displayName is optional (its admin console's Add person sets none): adopting
    must not need to write one, and a reconciliation leaves it empty."""
    dirs = okta_only
    okta = dirs.tenant.connections.get(kind="okta")
    login = f"gil@{dirs.tenant.primary_domain}"
    profile = {"firstName": "Gil", "lastName": "Existing", "login": login, "email": login}
    made = httpx.post(
        f"{okta.org_url}/api/v1/users?activate=true",
        json={"profile": {**profile, "countryCode": "GB"}},
        headers={"Authorization": f"SSWS {okta.get_secret()}"},
        verify=str(dirs.server.ca),
    )
    assert made.status_code == 200, made.text
    read_inventory(dirs)

    preview = adoption_bulk.preview_adoption(dirs.tenant)
    assert preview.adoptable == 1, [row.refusal for row in preview.samples]
    adoption_bulk.adopt_many(dirs.tenant, preview.person_ids, "system")
    identity = Identity.objects.get(tenant=dirs.tenant, username=login)
    assert identity.display_name == "Gil Existing"

    before = dirs.stats("okta")
    job = reconcile(identity)
    assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, job.error
    assert writes(before, dirs.stats("okta")) == {}
    assert "displayName" not in dirs.okta_user(login)["profile"]


def test_a_scim_app_beside_the_directory_is_kept_as_each_person_holds_it(okta_only):
    """A SCIM app gives accounts only through a template or grant: adopting someone without
    an account there creates none, and someone's existing account there is kept (not
    deleted by the first reconciliation) though no template gives the app."""
    from tests.provisioning.scim_apps import connect, make_app

    dirs = okta_only
    app = make_app(dirs.server, "full")
    connect(dirs.tenant, app, name="Slack")
    okta_person(dirs, "hal", groups=["Staff"])
    okta_person(dirs, "ida", groups=["Staff"])
    app.add_user(f"ida@{dirs.tenant.primary_domain}", "Ida", "Existing")
    read_inventory(dirs)

    preview = adoption_bulk.preview_adoption(dirs.tenant)
    assert preview.adoptable == 2, [row.refusal for row in preview.samples]
    adoption_bulk.adopt_many(dirs.tenant, preview.person_ids, "system")
    for name in ("hal", "ida"):
        identity = Identity.objects.get(tenant=dirs.tenant, username=person(dirs, name).username)
        job = reconcile(identity)
        assert job.status == Job.Status.SUCCEEDED and job.steps.count() == 0, (name, job.error)
    assert app.user(f"hal@{dirs.tenant.primary_domain}") is None
    assert app.user(f"ida@{dirs.tenant.primary_domain}")["active"] is True
