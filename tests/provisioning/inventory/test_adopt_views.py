"""The adoption pages: operators only (404 for another tenant's people, 403 for read-only
roles), changes by POST only, bad input refused with nothing saved; the page suggests the
template that explains what the person holds and shows the exceptions; adopting leads to the
identity (or its offboarding or move form); a managed person's actions are the identity's
own pages; the bulk page previews and adopts what it previewed."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.inventory import matching, scope
from provisioning.inventory.models import Account, Person, Resource
from provisioning.models import Identity
from tenants.models import DirectoryConnection
from tests.provisioning.test_client_navigation import breadcrumbs

pytestmark = pytest.mark.django_db

OPERATORS = ["msp_admin", Role.TECHNICIAN]
READ_ONLY = [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN]
CATALOGUE = {
    "entra": {
        "groups": {"g-team": "Alpha Ltd Sales Team", "g-vpn": "VPN Users"},
        "licenses": {"sku-e3": "SPE_E3"},
        "apps": {"app-crm": "Alpha Ltd CRM"},
    },
    "okta": {"groups": {"o-team": "Alpha Ltd Sales Team"}, "apps": {"o-crm": "Alpha Ltd CRM"}},
}


@pytest.fixture(autouse=True)
def quick_password_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def user_of(world, role, msp_admin):
    return msp_admin if role == "msp_admin" else world.people[role]


def account(world, kind: str, name: str, **fields) -> Account:
    connection = world.connection if kind == "entra" else world.okta_connection
    where = {"usageLocation": "GB"} if kind == "entra" else {"countryCode": "GB"}
    defaults = {
        "username": f"{name}@alpha.test",
        "mail": f"{name}@alpha.test",
        "first_name": name.title(),
        "last_name": "Existing",
        "display_name": f"{name.title()} Existing",
        "user_type": "Member" if kind == "entra" else "",
        "department": "Sales",
        "attributes": where,
    }
    return Account.objects.create(
        connection=connection,
        tenant=world.tenant,
        remote_id=f"{kind}-{name}",
        **(defaults | fields),
    )


@pytest.fixture
def people(alpha):
    """Alpha's directories as the inventory read them: Ada as the Sales template says plus
    VPN Users, Bob only in Entra, and a service account out of scope."""
    for kind, kinds in CATALOGUE.items():
        connection = alpha.connection if kind == "entra" else alpha.okta_connection
        for access_kind, names in kinds.items():
            for remote_id, name in names.items():
                Resource.objects.create(
                    connection=connection, kind=access_kind, remote_id=remote_id, name=name
                )
    account(
        alpha,
        "entra",
        "ada",
        group_ids=["g-team", "g-vpn"],
        licence_ids=["sku-e3"],
        app_ids=["app-crm"],
    )
    account(alpha, "okta", "ada", group_ids=["o-team"], app_ids=["o-crm"])
    account(alpha, "entra", "bob", group_ids=["g-vpn"])
    account(alpha, "entra", "svc-backup")
    scope.apply_scope(alpha.tenant)
    matching.rematch(alpha.tenant)
    return {
        name: Person.objects.get(tenant=alpha.tenant, username=f"{name}@alpha.test")
        for name in ("ada", "bob", "svc-backup")
    }


def url(name: str, world, person=None) -> str:
    kwargs = {"tenant": world.tenant.slug}
    if person is not None:
        kwargs["person_id"] = person.pk
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("role", OPERATORS)
def test_the_page_suggests_the_template_and_shows_the_exceptions(
    client, alpha, people, role, msp_admin
):
    client.force_login(user_of(alpha, role, msp_admin))
    response = client.get(url("person_adopt", alpha, people["ada"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Best match" in page and "Alpha Ltd Sales" in page
    assert f'value="{alpha.template.pk}"' in page and "checked" in page
    assert "VPN Users" in page  # the exception
    assert "Adopting changes nothing in any directory" in page


@pytest.mark.parametrize("role", READ_ONLY)
def test_read_only_roles_may_not_adopt(client, alpha, people, role):
    client.force_login(alpha.people[role])
    for name in ("person_adopt", "person_offboard", "person_change"):
        assert client.get(url(name, alpha, people["ada"])).status_code == 403
        assert client.post(url(name, alpha, people["ada"]), {}).status_code == 403
    assert client.get(url("people_adopt", alpha)).status_code == 403
    assert not Identity.objects.filter(username="ada@alpha.test").exists()


def test_another_tenants_person_is_not_found(client, alpha, bravo, people):
    client.force_login(bravo.technician)
    ada = people["ada"]
    for name in ("person_adopt", "person_offboard", "person_change"):
        target = reverse(name, kwargs={"tenant": bravo.tenant.slug, "person_id": ada.pk})
        assert client.get(target).status_code == 404
        assert client.post(target, {}).status_code == 404
        assert client.get(url(name, alpha, ada)).status_code == 404  # not their tenant


def test_adopting_leads_to_the_identity_and_is_audited(client, alpha, people):
    client.force_login(alpha.technician)
    response = client.post(
        url("person_adopt", alpha, people["ada"]),
        {"templates": [alpha.template.pk], "reason": "takeover"},
    )
    identity = Identity.objects.get(tenant=alpha.tenant, username="ada@alpha.test")
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": identity.pk}
    )
    assert [t.pk for t in identity.role_templates.all()] == [alpha.template.pk]
    groups = identity.access_exceptions[str(alpha.connection.pk)]["groups"]
    assert groups == [{"id": "g-vpn", "name": "VPN Users"}]
    event = AuditEvent.objects.get(action="inventory.adopted")
    assert event.actor_user_id == alpha.technician.pk and event.after["reason"] == "takeover"
    page = client.get(response["Location"]).content.decode()
    who = alpha.technician.get_full_name() or alpha.technician.username
    assert f"<dt>Adopted by</dt><dd>{who}," in page
    # managed now: its actions are the identity's own pages
    again = client.get(url("person_offboard", alpha, Person.objects.get(identity=identity)))
    assert again["Location"].endswith(f"/people/{identity.pk}/offboard/")


def test_someone_in_one_directory_is_adopted_there_only_with_nothing_to_confirm(
    client, alpha, people
):
    client.force_login(alpha.technician)
    bob = url("person_adopt", alpha, people["bob"])
    page = client.get(bob).content.decode()
    assert "Not in Okta: not managed there, and no account is created" in page
    assert "Adopting changes nothing in any directory" in page

    assert client.post(bob, {}).status_code == 302
    identity = Identity.objects.get(username="bob@alpha.test")
    assert identity.directories == [alpha.connection.pk]


def test_an_adoption_that_would_change_something_needs_a_confirmation(client, alpha, people):
    client.force_login(alpha.technician)
    bob = url("person_adopt", alpha, people["bob"])
    sales = {"templates": [alpha.template.pk]}
    page = client.get(bob, {"preview": "1", **sales}).content.decode()
    assert "add group" in page and "Okta (now" not in page and "account for" not in page

    refused = client.post(bob, sales)
    said = refused.content.decode()
    assert refused.status_code == 400 and "adopt only changes nothing" not in said  # garbled
    assert "Nothing was adopted: adopting Bob" in said and "tick “Adopt anyway”" in said
    assert not Identity.objects.filter(username="bob@alpha.test").exists()

    assert client.post(bob, {**sales, "confirm_changes": "on"}).status_code == 302
    identity = Identity.objects.get(username="bob@alpha.test")
    event = AuditEvent.objects.get(action="inventory.adopted", target_id=str(identity.pk))
    assert any("add group" in change for change in event.after["changes_confirmed"])


def test_out_of_scope_and_bad_input_save_nothing(client, alpha, bravo, people):
    client.force_login(alpha.technician)
    service = url("person_adopt", alpha, people["svc-backup"])
    page = client.get(service).content.decode()
    assert "Out of scope" in page and "excluded pattern" in page
    assert client.post(service, {"confirm_changes": "on"}).status_code == 400
    ada = url("person_adopt", alpha, people["ada"])
    for bad in (
        {"templates": ["99999999999999999999999"]},
        {"templates": [bravo.template.pk]},
        {"templates": ["x"]},
        {"reason": "x" * 501},
        {"reason": "<script>"},
    ):
        assert client.post(ada, bad).status_code == 400, bad
        assert client.get(ada, {"preview": "1", **bad}).status_code == 400, bad
    assert client.put(ada).status_code == 405
    assert (
        not Identity.objects.filter(username__endswith="@alpha.test")
        .exclude(pk=alpha.identity.pk)
        .exists()
    )


def test_offboarding_an_unmanaged_person_adopts_then_opens_the_offboarding_form(
    client, alpha, people
):
    client.force_login(alpha.technician)
    page = client.get(url("person_offboard", alpha, people["ada"])).content.decode()
    assert "Offboarding starts by adopting them" in page
    response = client.post(
        url("person_offboard", alpha, people["ada"]), {"templates": [alpha.template.pk]}
    )
    identity = Identity.objects.get(username="ada@alpha.test")
    assert response["Location"].endswith(f"/people/{identity.pk}/offboard/")
    moved = client.post(url("person_change", alpha, people["bob"]), {"confirm_changes": "on"})
    bob = Identity.objects.get(username="bob@alpha.test")
    assert moved["Location"].endswith(f"/people/{bob.pk}/change/")


def test_the_htmx_preview_follows_the_chosen_templates(client, alpha, people):
    client.force_login(alpha.technician)
    response = client.get(
        url("person_adopt", alpha, people["ada"]), {"preview": "1"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "Alpha Ltd Sales Team" in fragment and "SPE_E3" in fragment  # all exceptions now


def test_bulk_page_previews_and_adopts_what_it_previewed(client, alpha, people):
    client.force_login(alpha.technician)
    page = client.get(url("people_adopt", alpha))
    assert page.status_code == 200
    preview = page.context["preview"]
    # Ada adopted with the template; Bob, only in Entra, without one, in Entra only
    assert (preview.selected, preview.adoptable) == (2, 2)
    assert preview.templates == {"Alpha Ltd Sales": 1} and preview.without_template == 1
    assert "<th>Managed in</th>" in page.content.decode()

    stale = client.post(url("people_adopt", alpha), {"expected": "1"})
    assert stale.status_code == 302 and not Identity.objects.filter(username="ada@alpha.test")

    done = client.post(url("people_adopt", alpha), {"expected": "2", "reason": "takeover"})
    assert done.status_code == 302
    assert Identity.objects.filter(username="ada@alpha.test").exists()
    bob = Identity.objects.get(username="bob@alpha.test")
    assert bob.directories == [alpha.connection.pk]
    summary = AuditEvent.objects.get(action="inventory.adopted_many")
    assert summary.after["adopted"] == 2
    for bad in ({"directory": "x"}, {"q": "x" * 101}, {"status": "nope"}, {"expected": "-1"}):
        assert client.get(url("people_adopt", alpha), bad).status_code == 400, bad
    assert client.get(url("people_adopt", alpha), {"q": "nobody"}).context["preview"].selected == 0
    # a People page filter with out-of-scope people: counted as left as they are
    everyone = client.get(url("people_adopt", alpha), {"who": "unmanaged", "scope": ""})
    preview = everyone.context["preview"]
    assert preview.selected == 1  # the service account (Ada and Bob are managed now)
    assert preview.refused == {"Out of scope": 1}


def test_offboarding_someone_disabled_adopts_them_as_a_leaver_the_form_accepts(client, alpha):
    account(alpha, "entra", "cy", enabled=False)
    account(alpha, "okta", "cy", enabled=False)
    scope.apply_scope(alpha.tenant)
    matching.rematch(alpha.tenant)
    cy = Person.objects.get(tenant=alpha.tenant, username="cy@alpha.test")
    client.force_login(alpha.technician)

    response = client.post(url("person_offboard", alpha, cy), {})

    identity = Identity.objects.get(username="cy@alpha.test")
    assert identity.status == Identity.Status.LEAVER  # sign-in blocked, nothing removed
    assert identity.leave_options["block_sign_in"] and not identity.leave_options["remove_groups"]
    form = client.get(response["Location"])
    assert form.status_code == 200 and "Offboard Cy Existing" in form.content.decode()


def test_the_adoption_pages_trail_starts_as_the_people_pages_do(client, alpha, people):
    client.force_login(alpha.technician)
    people_page = reverse("people_list", kwargs={"tenant": alpha.tenant.slug})
    trail = breadcrumbs(client.get(people_page))  # Tenants / Alpha Ltd
    for page in (url("person_adopt", alpha, people["ada"]), url("people_adopt", alpha)):
        assert breadcrumbs(client.get(page)).startswith(f'{trail} / <a href="{people_page}">')


def test_an_adoption_left_to_the_worker_is_followed_on_the_page_until_it_ends(
    client, alpha, people, monkeypatch
):
    """The page said "the count below goes down as they are adopted" and stayed as it was:
    after a bulk adoption queued for the worker it follows it (htmx, every 2 s) and, once
    the worker's summary is on the trail, says what it did and stops."""
    from provisioning.inventory import adoption_bulk, views_adopt

    monkeypatch.setattr(views_adopt, "INLINE_LIMIT", 1)  # two people: the worker's
    client.force_login(alpha.technician)
    queued = client.post(url("people_adopt", alpha), {"expected": "2", "reason": "takeover"})
    assert queued.status_code == 302
    assert not Identity.objects.filter(username="ada@alpha.test")  # the worker has not run
    following = client.get(queued["Location"]).content.decode()
    progress = following[following.index('id="adopt-progress"') :].split("</p>")[0]
    assert "2 still to adopt" in progress
    results = following[following.index('id="adopt-results"') :].split(">")[0]
    assert 'data-hx-trigger="every 2s"' in results and 'data-hx-select="#adopt-results"' in results

    ids = [people["ada"].pk, people["bob"].pk]
    adoption_bulk.adopt_many(alpha.tenant, ids, alpha.technician, reason="takeover")
    done = client.get(queued["Location"], HTTP_HX_REQUEST="true").content.decode()
    progress = done[done.index('id="adopt-progress"') :].split("</p>")[0]
    assert "Adopted 2 people" in progress
    assert "every 2s" not in done
    # the link without its marker is the plain preview again
    plain = client.get(url("people_adopt", alpha)).content.decode()
    assert 'id="adopt-progress"' not in plain
    for mark in ("x", "nan", "inf", "-1", "1e400", "9" * 40):
        garbled = client.get(url("people_adopt", alpha), {"adopting": mark})
        assert garbled.status_code == 200, mark
        assert 'id="adopt-progress"' not in garbled.content.decode(), mark


def test_a_summary_the_page_shows_comes_with_the_counts_after_it(
    client, alpha, people, monkeypatch
):
    """The page counted what is left, then read the worker's summary: a worker that ended in
    between gave "Adopted 2 people" above the count from before its last adoption ("1 would
    be adopted"; the lone CI's browser test). The summary is read first: such a page shows
    the worker still at it, and the next look the summary with its counts."""
    from provisioning.inventory import adoption_bulk, views_adopt

    monkeypatch.setattr(views_adopt, "INLINE_LIMIT", 1)
    client.force_login(alpha.technician)
    queued = client.post(url("people_adopt", alpha), {"expected": "2", "reason": "takeover"})
    counted = adoption_bulk.preview_adoption

    def worker_ends_after_the_count(tenant, people_selected):
        preview = counted(tenant, people_selected)
        ids = [people["ada"].pk, people["bob"].pk]
        adoption_bulk.adopt_many(alpha.tenant, ids, alpha.technician, reason="takeover")
        return preview

    monkeypatch.setattr(adoption_bulk, "preview_adoption", worker_ends_after_the_count)
    page = client.get(queued["Location"], HTTP_HX_REQUEST="true").content.decode()
    adoptable = page[page.index('id="adoptable">') :].split("<")[0].split(">")[1]
    progress = page[page.index('id="adopt-progress"') :].split("</p>")[0]
    assert "Adopted 2 people" not in progress or adoptable == "0", (progress, adoptable)
    monkeypatch.setattr(adoption_bulk, "preview_adoption", counted)
    page = client.get(queued["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert "Adopted 2 people" in page and 'id="adoptable">0<' in page


def zed_only_in_slack(world) -> Person:
    """Zed Existing, whose only account is in the SCIM app Slack."""
    slack = DirectoryConnection(
        tenant=world.tenant,
        kind=DirectoryConnection.Kind.SCIM,
        name="Slack",
        scim_base_url="https://api.slack.example/scim/v2",
        scim_profile="slack",
    )
    slack.set_secret("token")
    slack.save()
    Account.objects.create(
        connection=slack,
        tenant=world.tenant,
        remote_id="scim-zed",
        username="zed@alpha.test",
        mail="zed@alpha.test",
        first_name="Zed",
        last_name="Existing",
        display_name="Zed Existing",
    )
    scope.apply_scope(world.tenant)
    matching.rematch(world.tenant)
    return Person.objects.get(tenant=world.tenant, username="zed@alpha.test")


def test_someone_only_in_a_scim_app_is_said_to_be_there_by_its_name(client, alpha):
    """Their only account is in the SCIM app Slack: the preview said "Managed in: no
    directory", as if they had no account (polish1). It names the app."""
    zed = zed_only_in_slack(alpha)
    client.force_login(alpha.technician)

    page = html.unescape(client.get(url("person_adopt", alpha, zed)).content.decode())

    assert "<strong>Slack</strong>" in page, page[page.find("adopt-preview") :][:3000]


def test_the_bulk_page_names_the_scim_app_of_someone_only_in_it(client, alpha):
    """The bulk page's "Managed in" said "no directory" of them, as the single preview did
    before polish1 (polish2): it names the app as that preview does."""
    zed_only_in_slack(alpha)
    client.force_login(alpha.technician)

    page = html.unescape(client.get(url("people_adopt", alpha)).content.decode())

    samples = page[page.find('id="adopt-samples"') :]
    row = samples[samples.find("zed@alpha.test") :][:1500]
    assert "only account is in the SCIM app <strong>Slack</strong>" in row, row
