"""Attribute mappings in the engine: a tenant's Entra mapping reaches the sandbox's user
through a real onboarding; without rows the desired state is exactly what it was."""

import pytest

from provisioning import services
from provisioning.engine.desired import desired_for
from provisioning.models import Identity, Job
from tenants.models import AttributeMapping, RoleTemplate
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories


def onboard(dirs, first="Ada", last="Lovelace") -> Job:
    request = services.OnboardingRequest(
        first_name=first, last_name=last, role_templates=[dirs.template]
    )
    username = services.suggest_username(dirs.tenant, request)
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


@pytest.mark.django_db(transaction=True)
def test_an_entra_mapping_reaches_the_directory_through_an_onboarding(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "mapped-entra", ("entra", "okta"))
    rows = {
        "job_title": "ToUpper([job_title])",
        "display_name": 'Join(" ", [last_name], [first_name])',
    }
    for attribute, expression in rows.items():
        AttributeMapping.objects.create(
            tenant=dirs.tenant, target="entra", attribute=attribute, expression=expression
        )
    request = services.OnboardingRequest(
        first_name="Ada", last_name="Lovelace", role_templates=[dirs.template]
    )
    preview = services.preview_onboarding(dirs.tenant, request)
    entra_plan = next(plan for c, plan, _ in preview.plans if c.kind == "entra")
    assert "ACCOUNT EXECUTIVE" in str(entra_plan.steps)  # the preview shows mapped values
    okta_plan = next(plan for c, plan, _ in preview.plans if c.kind == "okta")
    assert "ACCOUNT EXECUTIVE" not in str(okta_plan.steps)

    job = wait_for_job(onboard(dirs).pk)
    steps = list(job.steps.values_list("action", "target_name", "status", "last_error"))
    assert job.status == Job.Status.SUCCEEDED, steps  # the read-back matched the mapped state
    upn = f"ada.lovelace@{dirs.tenant.primary_domain}"
    user = dirs.entra_user(upn)
    assert user["jobTitle"] == "ACCOUNT EXECUTIVE"
    assert user["displayName"] == "Lovelace Ada"
    assert user["department"] == "Sales" and user["usageLocation"] == "GB"  # the defaults
    okta = dirs.okta_user(upn)["profile"]  # Okta has no rows: as before
    assert okta["title"] == "Account Executive" and okta["displayName"] == "Ada Lovelace"


# -- without rows, the state of before -------------------------------------------------------


def old_attributes(tenant, templates, overrides: dict) -> dict:
    """engine/desired.py's merge before mappings: the tenant's usage location, then each
    attribute from the first template that sets it, then the person's own non-empty values."""
    merged = {"usage_location": tenant.default_usage_location}
    firsts: dict = {}
    for template in templates:
        for name in ("department", "job_title", "usage_location", "company", "office"):
            if getattr(template, name):
                firsts.setdefault(name, getattr(template, name))
    given = {k: v for k, v in overrides.items() if v not in (None, "")}
    return merged | firsts | given


TEMPLATES = [
    [{"department": "Sales", "job_title": "Account Executive"}],
    [{"office": "Leeds", "usage_location": "DE"}, {"office": "York", "company": "Alpha"}],
    [{}, {"department": "Finance", "company": "Alpha Group", "job_title": "Controller"}],
]
OVERRIDES = [{}, {"job_title": "Lead", "manager": "boss@alpha.test"}, {"department": ""}]


@pytest.mark.django_db
@pytest.mark.parametrize("templates", TEMPLATES)
@pytest.mark.parametrize("overrides", OVERRIDES)
def test_no_rows_leave_the_desired_state_as_it_was(alpha, templates, overrides):
    made = [
        RoleTemplate.objects.create(tenant=alpha.tenant, name=f"T{i}", **fields)
        for i, fields in enumerate(templates)
    ]
    person = Identity.objects.create(
        tenant=alpha.tenant,
        first_name="Zoë",
        last_name="Ångström",
        display_name="Zoë Ångström",
        username="zoe@alpha.test",
        email="zoe@alpha.test",
        attributes=overrides,
    )
    person.role_templates.set(made)
    # Rows of other targets change nothing here.
    AttributeMapping.objects.create(
        tenant=alpha.tenant, target="okta", attribute="job_title", expression='"Other"'
    )
    for connection in (alpha.connection,):
        state = desired_for(person, connection)
        assert state.attributes == old_attributes(alpha.tenant, made, overrides)
        assert (state.first_name, state.last_name) == ("Zoë", "Ångström")
        assert (state.display_name, state.email) == ("Zoë Ångström", "zoe@alpha.test")
        assert state.manager == (overrides.get("manager") or "")
    okta = desired_for(person, alpha.okta_connection)
    assert okta.attributes["job_title"] == "Other"


@pytest.mark.django_db
def test_a_mapping_that_comes_out_empty_is_not_sent(alpha):
    person = alpha.identity
    for attribute, expression in {
        "department": 'IIF([department]="Sales", "", [department])',
        "office": 'Coalesce([office], "Remote")',
        "first_name": "[office]",  # empty: a directory needs a name, the person's stays
        "company": 'Join(" · ", [company], FormatDateTime([start_date], , "yyyy-MM-dd", '
        '"MMM yyyy"))',
    }.items():
        AttributeMapping.objects.create(
            tenant=alpha.tenant, target="entra", attribute=attribute, expression=expression
        )
    person.start_date = "2026-03-09"
    person.save()
    person.refresh_from_db()
    state = desired_for(person, alpha.connection)
    assert "department" not in state.attributes
    assert state.attributes["office"] == "Remote"
    assert state.attributes["company"] == "Mar 2026"
    assert state.first_name == "Pat"


@pytest.mark.django_db(transaction=True)
def test_a_mapping_longer_than_entra_takes_blocks_the_dry_run(on_sandbox):
    """Graph takes an officeLocation of at most 128 characters (docs/sandbox-fidelity.md,
    strict17); a mapping may compute up to 1024. The dry run says so and blocks, rather than
    the create failing at Graph with "Invalid value specified for property 'officeLocation'"."""
    dirs = make_directories(on_sandbox, "mapped-long", ("entra", "okta"))
    AttributeMapping.objects.create(
        tenant=dirs.tenant,
        target="entra",
        attribute="office",
        expression='Join(" / ", "' + "Building " * 15 + '", [department])',
    )
    request = services.OnboardingRequest(
        first_name="Ada", last_name="Lovelace", role_templates=[dirs.template]
    )
    preview = services.preview_onboarding(dirs.tenant, request)
    entra_plan = next(plan for c, plan, _ in preview.plans if c.kind == "entra")
    [problem] = [p for p in entra_plan.problems if p.blocking]
    assert problem.kind == "too_long" and problem.subject == "office"
    assert "143 characters" in problem.message and "at most 128" in problem.message
    assert not entra_plan.steps
    okta_plan = next(plan for c, plan, _ in preview.plans if c.kind == "okta")
    assert not [p for p in okta_plan.problems if p.blocking]  # Okta is not mapped
