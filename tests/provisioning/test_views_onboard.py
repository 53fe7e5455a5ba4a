"""The "Onboard a person" pages: who may use them, every bad input, the dry run, the submit.

Bad inputs never reach a directory (the form stops them first), so those tests use the base
world; the dry run and the submit read a real sandbox directory over HTTPS.
"""

import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.forms import OnboardingForm
from provisioning.models import Identity, Job
from tenants.models import DirectoryConnection, RoleTemplate, Tenant
from tests.factories import make_person
from tests.provisioning.directories import entra_connection, make_directories, make_entra

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def form_data(template, **overrides) -> dict:
    """The onboarding form as the page offers it: the start date is the tenant's today,
    which is not the server's (UTC) date in a tenant's evening or early morning."""
    from tenants import clock

    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "role_templates": [template.pk],
        "start_date": clock.tenant_today(template.tenant).isoformat(),
        "username": "",
        "department": "",
        "job_title": "",
        "manager": "",
        "usage_location": "",
        "extra_groups": "",
    }
    return data | overrides


def counts() -> tuple[int, int, int]:
    return Identity.objects.count(), Job.objects.count(), AuditEvent.objects.count()


# -- who may open it -----------------------------------------------------------------------


def test_technician_and_msp_admin_open_the_form(client, alpha, msp_admin):
    url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    for person in (alpha.technician, msp_admin):
        client.force_login(person)
        response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert alpha.template.name in body
        assert 'hx-trigger="change, input changed delay:500ms"' in body
        # a newer preview waits for the one in flight: replacing it aborted it, and htmx
        # logs every abort (htmx:sendAbort) as an error on the console
        assert 'data-hx-sync="this:queue last"' in body
        assert reverse("onboard_preview", kwargs={"tenant": alpha.tenant.slug}) in body


@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_read_only_roles_get_403(client, alpha, role):
    client.force_login(alpha.people[role])
    for name in ("onboard", "onboard_preview"):
        url = reverse(name, kwargs={"tenant": alpha.tenant.slug})
        assert client.post(url, form_data(alpha.template)).status_code == 403
    assert client.get(reverse("onboard_start")).status_code == 403


def test_tenant_not_assigned_is_404_and_nothing_is_created(client, alpha, bravo):
    client.force_login(bravo.technician)
    before = counts()
    for name in ("onboard", "onboard_preview"):
        url = reverse(name, kwargs={"tenant": alpha.tenant.slug})
        assert client.post(url, form_data(alpha.template)).status_code == 404
    assert client.get(reverse("onboard", kwargs={"tenant": alpha.tenant.slug})).status_code == 404
    people, jobs, events = counts()
    assert (people, jobs) == before[:2]
    # Only the two refused changes are recorded, as security events, naming no tenant.
    refused = AuditEvent.objects.order_by("-pk")[: events - before[2]]
    assert [(e.action, e.tenant_id) for e in refused] == [("security.request_refused", None)] * 2


def test_start_page_offers_only_my_tenants(client, alpha, bravo, msp_admin):
    client.force_login(alpha.technician)
    response = client.get(reverse("onboard_start"))
    assert response.status_code == 302  # one tenant: straight to its form
    assert response["Location"] == reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    client.force_login(msp_admin)
    body = client.get(reverse("onboard_start")).content.decode()
    assert alpha.tenant.name in body and bravo.tenant.name in body


def test_start_page_names_the_directories_each_tenant_onboards_into(
    client, alpha, bravo, msp_admin, django_assert_max_num_queries
):
    """Which tenant has Okta, which a SCIM app: said before the form, not found out after."""
    alpha.okta_connection.delete()
    client.force_login(msp_admin)
    with django_assert_max_num_queries(12):  # not a query per tenant
        body = client.get(reverse("onboard_start")).content.decode()
    picker = body[body.index('class="tenant-picker"') :]
    alpha_item = picker[picker.index(alpha.tenant.name) :].split("</li>")[0]
    bravo_item = picker[picker.index(bravo.tenant.name) :].split("</li>")[0]
    assert "Microsoft Entra ID" in alpha_item and "Okta" not in alpha_item, alpha_item
    assert "Microsoft Entra ID, Okta" in bravo_item, bravo_item


# -- bad inputs: a clear message, nothing created, nothing queued --------------------------


def too_far_back() -> str:
    return (timezone.localdate() - timedelta(days=61)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": "   "}, "first_name", "This field is required."),
        ({"last_name": ""}, "last_name", "This field is required."),
        ({"first_name": "A" * 500}, "first_name", "at most 64 characters (it has 500)"),
        ({"last_name": "L" * 500}, "last_name", "at most 64 characters (it has 500)"),
        ({"first_name": "<script>"}, "first_name", "Holds < or >: use plain text."),
        ({"role_templates": []}, "role_templates", "Choose at least one role template."),
        ({"start_date": "two months ago"}, "start_date", "Enter a valid date."),
        ({"usage_location": "GBR"}, "usage_location", "GBR is a three-letter code: a usage"),
        ({"usage_location": "usa"}, "usage_location", "such as US (not USA)"),
        ({"usage_location": "1x"}, "usage_location", "Two letters"),
        ({"usage_location": "uk"}, "usage_location", "UK is not an ISO 3166 country code: use GB."),
        ({"username": "ada@elsewhere.com"}, "username", "not one of this tenant's domains"),
        ({"username": "ada lovelace@alpha.test"}, "username", "Use a username such as"),
        ({"username": "ada.@alpha.test"}, "username", "Use a username such as"),
        ({"last_name": "L" * 51}, "last_name", "Okta takes at most 50 characters here (51"),
        (  # the naming rule's aaa….lll…@alpha.test: 71 characters before the @
            {"first_name": "A" * 40, "last_name": "L" * 30},
            "username",
            "Entra takes at most 64 characters before the @ (71 given)",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(client, alpha, overrides, field, message):
    client.force_login(alpha.technician)
    before = counts()
    url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, form_data(alpha.template, **overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors[field]), errors
    assert "Nothing was saved." in response.content.decode()
    assert counts() == before


def test_a_username_over_entras_48_characters_after_the_at_is_refused(client, alpha):
    """Entra's UPN takes at most 48 characters after the @, whatever the tenant's domains."""
    long_domain = f"{'d' * 38}.alpha.test"
    alpha.tenant.other_domains = [long_domain]
    alpha.tenant.save()
    client.force_login(alpha.technician)
    before = counts()
    url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, form_data(alpha.template, username=f"ada@{long_domain}"))
    message = "Entra takes at most 48 characters after the @ (49 given)."
    assert response.context["form"].errors["username"] == [message]
    assert counts() == before


def test_a_tenant_without_okta_takes_entras_64_characters_for_a_name(client, alpha):
    alpha.okta_connection.delete()
    client.force_login(alpha.technician)
    url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, form_data(alpha.template, last_name="L" * 64))
    errors = response.context["form"].errors if response.context else {}
    assert "last_name" not in errors


def test_start_date_two_months_past_is_refused(client, alpha):
    client.force_login(alpha.technician)
    before = counts()
    url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, form_data(alpha.template, start_date=too_far_back()))
    assert "more than 30 days in the past" in response.content.decode()
    ahead = (timezone.localdate() + timedelta(days=400)).isoformat()
    response = client.post(url, form_data(alpha.template, start_date=ahead))
    assert "more than a year ahead" in response.content.decode()
    assert counts() == before


def test_role_template_of_another_tenant_is_refused(client, alpha, bravo, msp_admin):
    for person in (alpha.technician, msp_admin):
        client.force_login(person)
        before = counts()
        url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
        response = client.post(url, form_data(bravo.template))
        errors = response.context["form"].errors["role_templates"]
        assert "not one of this tenant's" in " ".join(errors)
        assert bravo.template.name not in response.content.decode()
        assert counts() == before


def test_username_of_someone_already_in_the_portal_is_refused(client, alpha):
    client.force_login(alpha.technician)
    url = reverse("onboard", kwargs={"tenant": alpha.tenant.slug})
    before = counts()
    response = client.post(url, form_data(alpha.template, username=alpha.identity.username))
    assert "belongs to another person" in " ".join(response.context["form"].errors["username"])
    assert counts() == before


def ada_in_the_portal(world) -> Identity:
    return Identity.objects.create(
        tenant=world.tenant,
        first_name="Ada",
        last_name="Lovelace",
        display_name="Ada Lovelace",
        username=f"ada.lovelace@{world.tenant.primary_domain}",
    )


def test_the_same_person_submitted_again_is_refused_not_numbered(client, alpha):
    """A second submit of the same joiner (a double click, the back button, a retry after a
    slow page) gave ada.lovelace2 and a second account in every directory: the portal's
    namesake at the naming rule's address is the same person unless the form says not, as in
    the CSV import (provisioning/bulk/validate.py)."""
    ada = ada_in_the_portal(alpha)
    client.force_login(alpha.technician)
    before = counts()
    for name in ("onboard", "onboard_preview"):
        url = reverse(name, kwargs={"tenant": alpha.tenant.slug})
        body = client.post(url, form_data(alpha.template, last_name=" lovelace "), **HX)
        assert f"Ada Lovelace is in this portal already as {ada.username}" in (
            body.content.decode()
        )
    assert counts() == before
    another = form_data(alpha.template, different_person="on")
    form = OnboardingForm(another, tenant=alpha.tenant)
    assert form.is_valid(), form.errors


def test_the_dry_run_says_what_stops_it_not_to_fill_in_what_is_filled_in(client, alpha):
    """With every field filled in and a namesake in the portal, the dry run named the
    problem under "Enter a first and last name, a start date and a role", as if nothing
    had been typed."""
    ada_in_the_portal(alpha)
    client.force_login(alpha.technician)
    url = reverse("onboard_preview", kwargs={"tenant": alpha.tenant.slug})
    body = client.post(url, form_data(alpha.template), **HX).content.decode()
    assert "Enter a first and last name" not in body
    assert "Once this is settled" in body and "Ada Lovelace is in this portal already" in body
    empty = client.post(url, {"first_name": "Ada"}, **HX).content.decode()
    assert "Enter a first and last name" in empty and "Once this is settled" not in empty


def test_a_leaver_of_the_same_name_is_pointed_to_restore_not_onboarded_again(alpha):
    """A returning leaver typed in as a new joiner: the refusal says how to bring them back,
    so their history stays on one person."""
    ada = ada_in_the_portal(alpha)
    for status, action in ((Identity.Status.LEFT, "Restore"), (Identity.Status.DELETED, "Rehire")):
        Identity.objects.filter(pk=ada.pk).update(status=status)
        form = OnboardingForm(form_data(alpha.template), tenant=alpha.tenant)
        assert not form.is_valid()
        assert f"To bring them back, use {action} on their page" in str(
            form.errors["different_person"]
        )


def test_preview_of_an_incomplete_form_says_what_it_needs(client, alpha):
    client.force_login(alpha.technician)
    url = reverse("onboard_preview", kwargs={"tenant": alpha.tenant.slug})
    response = client.post(url, form_data(alpha.template, last_name="", first_name="A" * 80), **HX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "the username and the plan" in body and "at most 64 characters" in body


def test_preview_of_a_name_the_rule_cannot_spell_asks_for_a_username(client, alpha):
    """An Arabic or Chinese name folds to nothing under {first}.{last}: the dry run says so and
    points at Username override, instead of asking for a name the technician has typed."""
    client.force_login(alpha.technician)
    url = reverse("onboard_preview", kwargs={"tenant": alpha.tenant.slug})
    data = form_data(alpha.template, first_name="سارة", last_name="العلي")
    body = client.post(url, data, **HX).content.decode()
    assert "gives an empty username" in body and "Username override" in body


# -- against a sandbox directory -----------------------------------------------------------


@pytest.fixture
def contoso(on_sandbox):
    slug = f"cv-{uuid.uuid4().hex[:8]}"  # the sandbox lives for the session: fresh domains
    dirs = make_directories(on_sandbox, slug, ("entra", "okta"))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    return dirs


def test_preview_shows_username_and_plan_per_directory(client, contoso):
    client.force_login(contoso.technician)
    url = reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug})
    before = counts()
    response = client.post(url, form_data(contoso.template), **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body  # a partial
    assert contoso.upn in body
    assert "Microsoft Entra ID" in body and "Okta" in body
    assert f"Create user {contoso.upn}" in body
    assert "Assign licence SPE_E3 (100 available)" in body
    # The dashboard's "free" is its last reading: the dry run says why the two can differ.
    assert "read from the directory for this dry run" in body and "dashboard" in body
    assert "Add to group Sales" in body and "Add to group Staff" in body
    assert "Assign app Salesforce" in body
    assert "Ready to queue" in body
    assert counts() == before  # a dry run changes nothing
    assert contoso.entra_user(contoso.upn) is None


def test_preview_suffixes_a_username_taken_in_the_directory(client, contoso):
    contoso.add_entra_user(contoso.upn, "Ada", "Byron")
    client.force_login(contoso.technician)
    url = reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug})
    body = client.post(url, form_data(contoso.template), **HX).content.decode()
    assert contoso.upn.replace("lovelace@", "lovelace2@") in body


def test_the_dry_run_says_who_holds_the_address_a_numbered_username_passes_over(client, contoso):
    """Onboarding an Ada Lovelace where the directory holds an unmanaged ada.lovelace@ gave
    "Username ada.lovelace2@" and "Ready to queue" with no word of why: a technician could
    not tell a namesake from the same person already there, whose account is adopted, not
    made again (the CSV preview says whose the address is; provisioning/bulk/validate.py)."""
    contoso.add_entra_user(contoso.upn, "Ada", "Byron")
    client.force_login(contoso.technician)
    url = reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug})
    body = client.post(url, form_data(contoso.template), **HX).content.decode()
    numbered = contoso.upn.replace("lovelace@", "lovelace2@")
    assert (
        f"{contoso.upn} is taken in Microsoft Entra ID (Ada Byron): this person gets "
        f"{numbered}." in body
    )
    people = reverse("people_list", kwargs={"tenant": contoso.tenant.slug})
    assert f'href="{people}?q={contoso.upn}"' in body and "adopt" in body
    free = client.post(url, form_data(contoso.template, last_name="Byron"), **HX)
    assert "is taken" not in free.content.decode()
    Identity.objects.create(  # adopted since: a managed person, not an account to adopt
        tenant=contoso.tenant, first_name="Ada", last_name="Byron", username=contoso.upn
    )
    body = client.post(url, form_data(contoso.template), **HX).content.decode()
    assert f"{contoso.upn} is taken by someone in this portal: this person gets" in body
    assert "Find their account" not in body


def test_a_numbered_username_keeps_within_entras_64_characters_before_the_at(client, contoso):
    first, last = "A" * 40, "L" * 23  # the naming rule's aaa….lll…: 64 characters
    domain = contoso.upn.split("@")[1]
    contoso.add_entra_user(f"{first}.{last}@{domain}".lower(), first, last)
    client.force_login(contoso.technician)
    url = reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug})
    data = form_data(contoso.template, first_name=first, last_name=last)
    body = client.post(url, data, **HX).content.decode()
    assert f"{first[:40]}.{last[:22]}2@{domain}".lower() in body
    assert "Ready to queue" in body


def test_a_job_not_planned_yet_shows_no_step_count(client, contoso):
    """Just queued, the engine has not read the directories: how many steps the job takes is
    not known yet. The page says so with a dash, not "0 / 0 Steps done" as if done."""
    client.force_login(contoso.technician)
    client.post(
        reverse("onboard", kwargs={"tenant": contoso.tenant.slug}), form_data(contoso.template)
    )
    job = Job.objects.latest("pk")
    page = client.get(reverse("job_detail", kwargs={"job_id": job.pk})).content.decode()
    steps = re.search(r'<div class="n">([^<]*)</div><div class="l">Steps done', page)
    assert steps and steps.group(1) == "–", steps and steps.group(1)


def test_the_lists_of_jobs_show_no_step_count_before_the_plan_either(client, contoso):
    """The job page said "–" for a job not planned yet; the job list, the person's page and
    the client's home still said "0/0" beside "Waiting" (newcomer19)."""
    client.force_login(contoso.technician)
    client.post(
        reverse("onboard", kwargs={"tenant": contoso.tenant.slug}), form_data(contoso.template)
    )
    job = Job.objects.latest("pk")
    client_admin = make_person(f"ca-{contoso.tenant.slug}", Role.CLIENT_ADMIN, [contoso.tenant])
    slug = contoso.tenant.slug
    pages = [
        (contoso.technician, reverse("job_list")),
        (contoso.technician, reverse("identity_detail", kwargs={"tenant": slug,
                                                                "identity_id": job.identity_id})),
        (client_admin, reverse("client_home", kwargs={"tenant": slug})),
    ]  # fmt: skip
    for person, url in pages:
        client.force_login(person)
        page = client.get(url).content.decode()
        row = re.search(rf"<tr[^>]*>((?:(?!</tr>).)*?/jobs/{job.pk}/.*?)</tr>", page, re.S)
        steps = re.search(r'<span class="cell-label">Steps </span>([^<]*)', row.group(1))
        assert steps.group(1).strip() == "–", (url, steps.group(1))


def test_submit_creates_one_identity_one_job_one_audit_event(client, contoso):
    client.force_login(contoso.technician)
    before = counts()
    url = reverse("onboard", kwargs={"tenant": contoso.tenant.slug})
    data = form_data(contoso.template, job_title="Analyst", extra_groups="Finance\nVPN Users")
    response = client.post(url, data)
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    job = Job.objects.latest("pk")
    assert response.status_code == 302
    assert response["Location"] == reverse("job_detail", kwargs={"job_id": job.pk})
    assert job.status == Job.Status.QUEUED and job.kind == Job.Kind.JOIN
    assert job.requested_by == contoso.technician and job.tenant == contoso.tenant
    identity = job.identity
    assert identity.username == contoso.upn
    assert identity.attributes == {"job_title": "Analyst"}
    assert identity.extra_groups == ["Finance", "VPN Users"]
    assert list(identity.role_templates.all()) == [contoso.template]
    event = AuditEvent.objects.latest("id")
    assert event.action == "identity.onboard" and event.target_id == str(identity.pk)
    assert event.job_id == str(job.pk)


def test_unresolved_blocking_problem_queues_nothing(client, contoso):
    template = RoleTemplate.objects.create(
        tenant=contoso.tenant, name="Ghost", groups=["No Such Group"], apps=["Salesforce"]
    )
    client.force_login(contoso.technician)
    before = counts()
    url = reverse("onboard", kwargs={"tenant": contoso.tenant.slug})
    response = client.post(url, form_data(template))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was queued: resolve the problems in the plan first" in body
    assert "Please correct the fields" not in body  # no field is wrong: the plan is
    assert "No group “No Such Group” in this directory." in body
    # The summary under the plan says it once, with the directories it is true of (each
    # directory's copy read twice, and "this directory" named neither).
    verdict = body[body.index('class="plan-verdict"') :]
    verdict = verdict[: verdict.index("</ul>")]
    assert verdict.count("No Such Group") == 1, verdict
    assert (
        "<li>Microsoft Entra ID and Okta: No group “No Such Group” in this directory.</li>"
        in verdict
    )
    assert counts() == before


@pytest.fixture
def full_licences(on_sandbox):
    """An Entra directory whose SPE_E3 has no free seat (EMS has 50)."""
    domain = f"full-{uuid.uuid4().hex[:8]}.example"
    tenant = Tenant.objects.create(name="Full", slug="full-seats", primary_domain=domain)
    directory_id, client_id = make_entra(on_sandbox, domain, seats=0)
    entra_connection(on_sandbox, tenant, directory_id, client_id)
    template = RoleTemplate.objects.create(
        tenant=tenant, name="Sales", groups=["Sales"], licenses=["SPE_E3"]
    )
    return tenant, template, make_person("tech-full", Role.TECHNICIAN, [tenant])


def test_a_licence_in_use_beyond_its_seats_reads_none_available(client, on_sandbox):
    """Entra gives a restored user back the licences they held "even if there are no seats
    available for those licenses" (azure-docs users-restore.md), so a SKU can be in use more
    times than bought: two SPE_E3 holders on one seat, as the sandbox's restore leaves it. The
    dry run said "SPE_E3 (-1 available)"."""
    domain = f"over-{uuid.uuid4().hex[:8]}.example"
    tenant = Tenant.objects.create(name="Over", slug="over-seats", primary_domain=domain)
    holders = [
        {
            "userPrincipalName": f"{name}@{domain}",
            "displayName": name.title(),
            "licenses": ["SPE_E3"],
        }
        for name in ("restored", "joined")
    ]
    directory_id, client_id = make_entra(on_sandbox, domain, seats=1, extra={"users": holders})
    entra_connection(on_sandbox, tenant, directory_id, client_id)
    template = RoleTemplate.objects.create(tenant=tenant, name="Sales", licenses=["SPE_E3"])
    client.force_login(make_person("tech-over", Role.TECHNICIAN, [tenant]))
    preview = client.post(
        reverse("onboard_preview", kwargs={"tenant": tenant.slug}), form_data(template), **HX
    ).content.decode()
    assert "No free seat of SPE_E3" in preview
    assert "-1 available" not in preview
    assert "SPE_E3 (none available: 1 more in use than bought)" in preview


def test_no_free_seat_asks_for_a_choice_and_queues_nothing_until_answered(client, full_licences):
    tenant, template, technician = full_licences
    client.force_login(technician)
    before = counts()
    preview = client.post(
        reverse("onboard_preview", kwargs={"tenant": tenant.slug}), form_data(template), **HX
    ).content.decode()
    assert "No free seat of SPE_E3" in preview and 'name="license_choice__SPE_E3"' in preview
    assert "Use EMS instead (50 available)" in preview and "Go without this licence" in preview

    url = reverse("onboard", kwargs={"tenant": tenant.slug})
    response = client.post(url, form_data(template))
    assert "Nothing was queued" in response.content.decode()
    assert counts() == before

    answered = client.post(
        reverse("onboard_preview", kwargs={"tenant": tenant.slug}),
        form_data(template, license_choice__SPE_E3="EMS"),
        **HX,
    ).content.decode()
    assert "Assign licence EMS (50 available)" in answered and "Ready to queue" in answered

    response = client.post(url, form_data(template, license_choice__SPE_E3="EMS"))
    assert response.status_code == 302
    job = Job.objects.latest("pk")
    assert job.identity.license_choices == {"SPE_E3": "EMS"}  # part of their desired state
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_tenant_switch_goes_to_the_chosen_tenants_form(client, alpha, bravo, msp_admin):
    client.force_login(msp_admin)
    body = client.get(reverse("onboard", kwargs={"tenant": alpha.tenant.slug})).content.decode()
    assert 'name="tenant"' in body and bravo.tenant.name in body  # the switch
    response = client.get(reverse("onboard_start"), {"tenant": bravo.tenant.slug})
    assert response["Location"] == reverse("onboard", kwargs={"tenant": bravo.tenant.slug})
    client.force_login(alpha.technician)
    body = client.get(reverse("onboard", kwargs={"tenant": alpha.tenant.slug})).content.decode()
    assert bravo.tenant.name not in body
    response = client.get(reverse("onboard_start"), {"tenant": bravo.tenant.slug}, follow=True)
    assert response.status_code == 404


def test_unreachable_directory_blocks_the_submit_with_a_clear_message(client, contoso):
    broken = DirectoryConnection.objects.get(tenant=contoso.tenant, kind="okta")
    broken.org_url = "https://127.0.0.1:9/okta/none"  # nothing listens there
    broken.save()
    client.force_login(contoso.technician)
    before = counts()
    preview = client.post(
        reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug}),
        form_data(contoso.template),
        **HX,
    )
    assert preview.status_code == 200 and "could not be read" in preview.content.decode()
    response = client.post(
        reverse("onboard", kwargs={"tenant": contoso.tenant.slug}), form_data(contoso.template)
    )
    body = response.content.decode()
    assert response.status_code == 200 and "could not be read" in body
    assert "Nothing was queued" in body
    assert counts() == before


def test_a_scim_app_no_chosen_role_gives_says_so_in_the_dry_run(client, contoso, on_sandbox):
    """A role without the tenant's Slack: the dry run said "Nothing to change." under Slack,
    as it says of an account that is there already and as wanted (newcomer12's walk)."""
    from tests.provisioning.scim_apps import connect, make_app

    slack = connect(contoso.tenant, make_app(on_sandbox, "slack"), "Slack")
    client.force_login(contoso.technician)
    url = reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug})
    body = client.post(url, form_data(contoso.template), **HX).content.decode()
    section = body[body.index(f"<h3>{slack.label}</h3>") :]
    section = section[: section.index("</div>")]
    assert "No account there: none of the chosen roles gives this app." in section, section
    assert "Nothing to change." not in section


def test_preview_of_a_username_on_a_federated_domain_says_so_and_submit_queues_nothing(
    client, on_sandbox
):
    slug = f"fv-{uuid.uuid4().hex[:8]}"
    corp = f"corp.{slug}.example"
    extra = {"domains": [corp], "federated_domains": [corp]}
    dirs = make_directories(on_sandbox, slug, entra_extra=extra)
    dirs.tenant.other_domains = [corp]
    dirs.tenant.save(update_fields=["other_domains"])
    client.force_login(make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant]))
    data = form_data(dirs.template, username=f"ada.lovelace@{corp}")
    before = counts()
    preview = client.post(reverse("onboard_preview", kwargs={"tenant": slug}), data, **HX)
    body = preview.content.decode()
    assert preview.status_code == 200
    assert f"{corp} is a federated domain in this Microsoft Entra tenant" in body
    assert f"choose a username on a managed domain ({slug}.example)" in body
    assert f"Create user ada.lovelace@{corp}" not in body and "Ready to queue" not in body
    submit = client.post(reverse("onboard", kwargs={"tenant": slug}), data)
    assert "Nothing was queued: resolve the problems in the plan first" in submit.content.decode()
    assert counts() == before


def test_a_future_start_says_the_accounts_are_made_now_with_sign_in_blocked(client, contoso):
    """A start date ahead creates the accounts at once, disabled, and enables them on the
    first day: the dry run says so before the technician queues it (the job's read-back then
    shows "blocked"), with the moment in the tenant's zone."""
    from tenants import clock

    contoso.tenant.time_zone = "America/New_York"
    contoso.tenant.save(update_fields=["time_zone"])
    client.force_login(contoso.technician)
    url = reverse("onboard_preview", kwargs={"tenant": contoso.tenant.slug})
    start = clock.tenant_today(contoso.tenant) + timedelta(days=7)
    body = client.post(url, form_data(contoso.template, start_date=start.isoformat()), **HX)
    body = body.content.decode()
    assert 'id="plan-ahead"' in body
    note = body[body.index('id="plan-ahead"') :].split("</p>")[0]
    assert f"{start.day} {start:%b %Y} 00:00 (America/New_York)" in note
    assert "sign-in blocked" in note
    today = client.post(url, form_data(contoso.template), **HX).content.decode()
    assert 'id="plan-ahead"' not in today


def test_the_start_date_offered_is_the_tenants_today(client, alpha):
    """The form's start date defaults to the tenant's own today: the server's (UTC) date
    is tomorrow for a tenant behind UTC in its evening, which made an evening joiner a
    joiner created ahead, unable to sign in until the next day."""
    from tenants import clock

    # a zone whose date differs from UTC's now: UTC-12 before noon UTC, UTC+14 after 10:00
    zone = "Etc/GMT+12" if timezone.now().hour < 12 else "Pacific/Kiritimati"
    alpha.tenant.time_zone = zone
    alpha.tenant.save(update_fields=["time_zone"])
    assert clock.tenant_today(alpha.tenant) != timezone.localdate()
    client.force_login(alpha.technician)
    body = client.get(reverse("onboard", kwargs={"tenant": alpha.tenant.slug})).content.decode()
    field = body[body.index('name="start_date"') :].split(">")[0]
    assert f'value="{clock.tenant_today(alpha.tenant).isoformat()}"' in field
