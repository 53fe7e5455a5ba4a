"""Work that belongs to on-premises AD or Exchange: a user synced from AD and mail-enabled
groups / distribution lists. Found at dry run and kept on the job as checklist items, never
scheduled as steps Graph would refuse; the job still succeeds on what the portal can change,
verified by reading back. The real engine runs in-process against the sandbox over HTTPS."""

import uuid

import pytest
from django.db import transaction
from django.urls import reverse

from portal.models import Role
from provisioning import services
from provisioning.engine import elsewhere
from provisioning.lifecycle import services as lifecycle
from provisioning.models import Job, Step
from provisioning.tasks import run_job
from tests.factories import make_person
from tests.provisioning.directories import make_directories
from tests.provisioning.test_views_lifecycle import offboard_data
from tests.provisioning.test_views_onboard import form_data

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
A = Step.Action


def hybrid_extra(domain: str) -> dict:
    """Sam is synced from AD, in the cloud group Staff and the distribution list Sales-All;
    he reports to Lee (a cloud account), who reports to Bob."""
    sam, lee, bob = f"sam.synced@{domain}", f"lee.leaver@{domain}", f"bob.boss@{domain}"
    return {
        "users": [
            {"userPrincipalName": bob, "displayName": "Bob Boss"},
            {
                "userPrincipalName": lee,
                "displayName": "Lee Leaver",
                "givenName": "Lee",
                "surname": "Leaver",
                "manager": bob,
            },
            {
                "userPrincipalName": sam,
                "displayName": "Sam Synced",
                "givenName": "Sam",
                "surname": "Synced",
                "department": "Sales",
                "onPremisesSyncEnabled": True,
                "manager": lee,
                "licenses": ["SPE_E3"],
                "apps": ["Salesforce"],
            },
        ],
        "groups": [
            {
                "display_name": "Sales-All",
                "mail_enabled": True,
                "security_enabled": False,
                "members": [sam],  # Exchange put him there
            },
            {"display_name": "Finance-All", "mail_enabled": True, "security_enabled": False},
            {"display_name": "Staff Mail", "mail_enabled": True, "security_enabled": True},
            {"display_name": "HR Synced", "synced": True},
        ],
    }


@pytest.fixture
def hybrid(on_sandbox):
    slug = f"hy-{uuid.uuid4().hex[:8]}"
    dirs = make_directories(on_sandbox, slug, entra_extra=hybrid_extra(f"{slug}.example"))
    dirs.technician = make_person(f"tech-{slug}", Role.TECHNICIAN, [dirs.tenant])
    dirs.sam = f"sam.synced@{slug}.example"
    assert dirs.entra_user(dirs.sam)["onPremisesSyncEnabled"] is True
    return dirs


def run(job) -> Job:
    run_job(job.pk)
    job.refresh_from_db()
    return job


def steps_of(job) -> list[tuple[str, str]]:
    return list(job.steps.order_by("order").values_list("action", "target_name"))


def items(job_or_plan) -> list[str]:
    rows = job_or_plan.checklist
    return [r["item"] if isinstance(r, dict) else r.item for r in rows]


def link_sam(dirs, extra_groups=("Finance-All",)) -> Job:
    """The portal takes Sam over (a join that finds him by username and links him)."""
    request = services.OnboardingRequest(
        "Sam", "Synced", [dirs.template], extra_groups=list(extra_groups)
    )
    job = services.request_onboarding(dirs.tenant, request, username=dirs.sam, actor="system")
    return run(job)


def test_a_join_of_a_synced_user_does_the_cloud_side_and_lists_the_rest(hybrid):
    job = link_sam(hybrid)

    assert job.status == Job.Status.SUCCEEDED, job.error or steps_of(job)
    steps = steps_of(job)
    assert (A.UPDATE_USER, "usage_location") in steps  # cloud-side on a synced user
    assert not any(a == A.ADD_GROUP and t == "Finance-All" for a, t in steps)
    assert (A.ADD_GROUP, "Sales") in steps
    assert items(job) == [
        f"Set job title to “Account Executive” for {hybrid.sam} in on-premises Active Directory",
        f"Add {hybrid.sam} to the distribution list Finance-All in Exchange",
    ]
    assert {r["kind"] for r in job.checklist} == {elsewhere.SYNCED_USER, elsewhere.EXCHANGE_GROUP}
    assert all(r["connection"] == job.tenant.connections.get().pk for r in job.checklist)
    user = hybrid.entra_user(hybrid.sam)
    assert user["usageLocation"] == "GB"
    assert user["jobTitle"] is None  # AD's to change
    assert "Finance-All" not in user["groups"] and "Sales" in user["groups"]
    assert job.verification["directories"]


def test_dry_run_of_a_synced_leaver_in_a_dl_shows_checklist_items_and_no_such_steps(hybrid):
    link_sam(hybrid, extra_groups=())
    identity = Job.objects.get(tenant=hybrid.tenant).identity
    options = lifecycle.OffboardingOptions.preset_for(hybrid.tenant)

    preview = lifecycle.preview_offboarding(identity, options)

    [(_, plan, error)] = preview.plans
    assert error == ""
    actions = [(s.action, s.target_name) for s in plan.steps]
    assert not {a for a, _ in actions} & {A.DISABLE_USER, A.RESET_PASSWORD, A.UPDATE_USER}
    assert (A.REMOVE_GROUP, "Sales-All") not in actions
    assert (A.REMOVE_GROUP, "Staff") in actions
    assert (A.REVOKE_SESSIONS, hybrid.sam) in actions
    assert any(a == A.REMOVE_LICENSE for a, _ in actions)
    listed = items(plan)
    assert f"Disable {hybrid.sam} in on-premises Active Directory" in listed
    assert f"Reset the password of {hybrid.sam} in on-premises Active Directory" in listed
    assert f"Remove {hybrid.sam} from the distribution list Sales-All in Exchange" in listed
    assert not preview.blocking_problems


def test_the_leave_of_a_synced_user_succeeds_and_the_job_keeps_the_checklist(hybrid, client):
    link_sam(hybrid, extra_groups=())
    identity = Job.objects.get(tenant=hybrid.tenant).identity
    options = lifecycle.OffboardingOptions.preset_for(hybrid.tenant)

    job = run(lifecycle.request_offboarding(identity, options, actor="system"))

    assert job.status == Job.Status.SUCCEEDED, job.error or steps_of(job)
    actions = {a for a, _ in steps_of(job)}
    assert not actions & {A.DISABLE_USER, A.RESET_PASSWORD}
    assert (A.REMOVE_GROUP, "Sales-All") not in steps_of(job)
    assert job.steps.filter(status=Step.Status.FAILED).count() == 0
    listed = items(job)
    assert f"Disable {hybrid.sam} in on-premises Active Directory" in listed
    assert f"Remove {hybrid.sam} from the distribution list Sales-All in Exchange" in listed
    assert len(listed) == len(set(listed))  # each once, however many rounds found it
    user = hybrid.entra_user(hybrid.sam)
    assert user["accountEnabled"] is True  # AD's to do, and the checklist says so
    # The cloud groups went; Exchange's stays, and so does the rule-based one (Sales dept).
    assert set(user["groups"]) == {"Sales-All", "Sales (dynamic)"}
    assert user["licenses"] == [] and user["appRoleAssignments"] == []

    client.force_login(hybrid.technician)
    page = client.get(reverse("job_detail", kwargs={"job_id": job.pk})).content.decode()
    assert 'id="job-checklist"' in page
    assert f"Disable {hybrid.sam} in on-premises Active Directory" in page
    assert "Exchange Online owns its" in page
    polled = client.get(reverse("job_detail", kwargs={"job_id": job.pk}), **HX).content.decode()
    assert 'id="job-checklist"' in polled


def test_a_distribution_list_in_a_template_is_a_checklist_item_and_the_join_verifies(hybrid):
    hybrid.template.groups = ["Staff", "Sales-All", "Staff Mail", "HR Synced"]
    hybrid.template.save()
    request = services.OnboardingRequest("Cleo", "Cloud", [hybrid.template])
    upn = f"cleo.cloud@{hybrid.tenant.primary_domain}"

    job = run(services.request_onboarding(hybrid.tenant, request, username=upn, actor="system"))

    assert job.status == Job.Status.SUCCEEDED, job.error or steps_of(job)
    assert job.options["round"] == 1  # the DLs were not planned again on the read-back
    groups = {t for a, t in steps_of(job) if a == A.ADD_GROUP}
    assert groups == {"Staff"}
    assert items(job) == [
        f"Add {upn} to the distribution list Sales-All in Exchange",
        f"Add {upn} to the mail-enabled security group Staff Mail in Exchange",
        f"Add {upn} to HR Synced in on-premises Active Directory",
    ]
    assert "Sales-All" not in hybrid.entra_user(upn)["groups"]


def test_onboarding_dry_run_page_shows_the_checklist(hybrid, client):
    hybrid.template.groups = ["Staff", "Sales-All"]
    hybrid.template.save()
    client.force_login(hybrid.technician)
    url = reverse("onboard_preview", kwargs={"tenant": hybrid.tenant.slug})
    data = form_data(hybrid.template, first_name="Cleo", last_name="Cloud")

    body = client.post(url, data, **HX).content.decode()

    assert "To do outside the portal" in body
    upn = f"cleo.cloud@{hybrid.tenant.primary_domain}"
    assert f"Add {upn} to the distribution list Sales-All in Exchange" in body
    assert "Add to group Sales-All" not in body


def test_offboarding_dry_run_page_shows_the_checklist(hybrid, client):
    link_sam(hybrid, extra_groups=())
    identity = Job.objects.get(tenant=hybrid.tenant).identity
    client.force_login(hybrid.technician)
    url = reverse(
        "offboard_preview", kwargs={"tenant": hybrid.tenant.slug, "identity_id": identity.pk}
    )

    body = client.post(url, offboard_data(), **HX).content.decode()

    assert f"Disable {hybrid.sam} in on-premises Active Directory" in body
    assert f"Block sign-in {hybrid.sam}" not in body


def test_a_move_of_a_synced_user_leaves_the_profile_to_ad(hybrid):
    link_sam(hybrid, extra_groups=())
    identity = Job.objects.get(tenant=hybrid.tenant).identity
    change = lifecycle.ChangeRequest(
        role_templates=[hybrid.template], attributes={"department": "Support"}
    )

    [(_, plan, _)] = lifecycle.preview_change(identity, change).plans

    assert not [s for s in plan.steps if s.action == A.UPDATE_USER]
    assert items(plan) == [
        f"Set department to “Support”, job title to “Account Executive” for {hybrid.sam} "
        "in on-premises Active Directory"
    ]


def test_a_synced_direct_report_gets_the_new_manager_in_ad(hybrid):
    lee = f"lee.leaver@{hybrid.tenant.primary_domain}"
    request = services.OnboardingRequest("Lee", "Leaver", [hybrid.template])
    joined = run(services.request_onboarding(hybrid.tenant, request, username=lee, actor="system"))
    assert joined.status == Job.Status.SUCCEEDED, joined.error or steps_of(joined)
    options = lifecycle.OffboardingOptions.preset_for(hybrid.tenant)
    options.reassign_reports = True

    job = run(lifecycle.request_offboarding(joined.identity, options, actor="system"))

    assert job.status == Job.Status.SUCCEEDED, job.error or steps_of(job)
    assert not [t for a, t in steps_of(job) if a == A.REASSIGN_REPORT]
    bob = f"bob.boss@{hybrid.tenant.primary_domain}"
    assert f"Set the manager of {hybrid.sam} to {bob} in on-premises Active Directory" in items(job)


def test_the_delete_of_a_synced_leaver_is_ad_s_and_the_job_still_verifies(hybrid):
    link_sam(hybrid, extra_groups=())
    identity = Job.objects.get(tenant=hybrid.tenant).identity
    options = lifecycle.OffboardingOptions.preset_for(hybrid.tenant)
    options.delete_after_days = 0
    leave = run(lifecycle.request_offboarding(identity, options, actor="system"))
    assert leave.status == Job.Status.SUCCEEDED, leave.error or steps_of(leave)
    delete = identity.jobs.get(kind=Job.Kind.DELETE)
    with transaction.atomic():
        assert lifecycle.start_job(delete)

    delete = run(delete)

    assert delete.status == Job.Status.SUCCEEDED, delete.error or steps_of(delete)
    assert not {a for a, _ in steps_of(delete)} & {A.DELETE_USER, A.PURGE_USER}
    assert items(delete) == [
        f"Delete {hybrid.sam} in on-premises Active Directory (or take it out of the sync scope)"
    ]
    assert delete.checklist[0]["reason"] == elsewhere.SYNCED_DELETE_WHY
    assert hybrid.entra_user(hybrid.sam)["deleted"] is False
