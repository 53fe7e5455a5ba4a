"""A join's Verification says which groups came from a rule, not from the plan: Entra adds
a new Sales person to "Sales (dynamic)" by its membership rule, so the read-back counts three
groups where the plan listed two. Services, a real worker, the real SDK, the sandbox."""

import pytest
from django.urls import reverse

from provisioning.models import Job
from tests.provisioning.conftest import wait_for_job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_joins_verification_names_the_groups_a_rule_added(on_sandbox, worker, client, msp_admin):
    dirs = make_directories(on_sandbox, "joinrule", kinds=("entra",))
    joined = wait_for_job(onboard(dirs).pk)

    assert joined.status == Job.Status.SUCCEEDED
    planned = joined.steps.filter(action="add_group").values_list("target_name", flat=True)
    assert sorted(planned) == ["Sales", "Staff"]
    (entra,) = joined.verification["directories"].values()
    assert entra["groups"] == 3
    assert entra["by_rule"] == [
        "“Sales (dynamic)” is rule-based: the directory added the person by its rule, not the plan."
    ]
    client.force_login(msp_admin)
    page = client.get(reverse("job_detail", kwargs={"job_id": joined.pk})).content.decode()
    verification = page[page.index('id="job-verification"') :]
    assert "Not from the plan: “Sales (dynamic)” is rule-based" in verification
