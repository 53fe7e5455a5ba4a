"""One rule for a person's names and attributes (portal/plain_text.py): what the bulk CSV import
refuses, the onboarding and change forms refuse too, field by field, with the same words, and
nothing is created or queued."""

import pytest
from django.urls import reverse
from django.utils.html import escape

from portal.audit.models import AuditEvent
from provisioning.access.forms import OnboardActionForm
from provisioning.forms import OnboardingForm
from provisioning.lifecycle.forms import ChangeForm
from provisioning.models import Batch, Identity, Job
from tests.provisioning.bulk_support import ONBOARD_HEADER, batch_of, csv_text, sandbox_tenant
from tests.provisioning.bulk_support import upload as upload_csv
from tests.provisioning.test_views_lifecycle import change_data
from tests.provisioning.test_views_onboard import form_data

pytestmark = pytest.mark.django_db

HOSTILE = [
    ("=HYPERLINK(1)", "starts with “=”, as a spreadsheet formula does."),
    ("+SUM(A1:A9)", "starts with “+”, as a spreadsheet formula does."),
    ("-2+3", "starts with “-”, as a spreadsheet formula does."),
    ("@cmd", "starts with “@”, as a spreadsheet formula does."),
    ("<b>Ada</b>", "holds < or >: use plain text."),
    # A right-to-left override shows "Ada exe.gnp" as "Ada png.exe" in every list, audit
    # trail and directory that carries the name; the HR webhook refused it, the rest took it.
    ("Ada \u202eexe.gnp", "holds an invisible control character (U+202E): use plain text."),
]
ONBOARD_FIELDS = ["first_name", "last_name", "department", "job_title", "manager"]
CHANGE_FIELDS = ["department", "job_title", "office"]
CSV_FIELDS = ["first_name", "last_name", "department", "job_title", "office", "employee_id"]


def counts() -> tuple[int, int, int]:
    return Identity.objects.count(), Job.objects.count(), AuditEvent.objects.count()


def refused(response, field: str, problem: str) -> None:
    """The page names the problem at the field; the dry-run partial lists it."""
    assert response.status_code == 200
    message = problem[0].upper() + problem[1:]
    if response.context is not None:  # the whole page
        assert response.context["form"].errors[field] == [message]
    assert escape(message) in response.content.decode()


@pytest.mark.parametrize("value,problem", HOSTILE)
def test_the_onboarding_form_refuses_what_the_csv_refuses(client, alpha, value, problem):
    client.force_login(alpha.technician)
    before = counts()
    for field in ONBOARD_FIELDS:
        for name in ("onboard", "onboard_preview"):
            url = reverse(name, kwargs={"tenant": alpha.tenant.slug})
            response = client.post(url, form_data(alpha.template, **{field: value}))
            refused(response, field, problem)
    assert counts() == before


@pytest.mark.parametrize("value,problem", HOSTILE)
def test_the_change_form_refuses_what_the_csv_refuses(client, alpha, value, problem):
    client.force_login(alpha.technician)
    before = counts()
    person = {"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    for field in CHANGE_FIELDS:
        for name in ("identity_change", "identity_change_preview"):
            data = change_data(alpha, **{field: value})
            response = client.post(reverse(name, kwargs=person), data)
            refused(response, field, problem)
    assert counts() == before


def test_such_characters_inside_a_name_pass_both_forms(alpha):
    fine = {"last_name": "O'Brien = Smith", "job_title": "R&D + QA", "department": "Ops - EU"}
    onboarding = OnboardingForm(form_data(alpha.template, **fine), tenant=alpha.tenant)
    assert onboarding.is_valid(), onboarding.errors
    fine = {"office": "Leeds @ Mill", "job_title": "R&D + QA", "department": "Ops - EU"}
    change = ChangeForm(change_data(alpha, **fine), identity=alpha.identity)
    assert change.is_valid(), change.errors


def test_the_bulk_import_keeps_refusing_by_the_same_rule(client, on_sandbox):
    dirs = sandbox_tenant(on_sandbox, "names")
    client.force_login(dirs.technician)
    rows = []
    for field in CSV_FIELDS:
        for value, _ in HOSTILE:
            cells = dict.fromkeys(ONBOARD_HEADER, "")
            cells |= {"first_name": "Ada", "last_name": f"Row{len(rows)}", "role": "Sales"}
            rows.append([*(cells | {field: value}).values()])
    batch = batch_of(upload_csv(client, dirs.tenant, csv_text(ONBOARD_HEADER, rows)))
    assert isinstance(batch, Batch) and batch.rows_valid == 0
    expected = [f"{field} {problem}" for field in CSV_FIELDS for _, problem in HOSTILE]
    found = [row.errors for row in batch.rows.order_by("line")]
    assert [error in errors for error, errors in zip(expected, found, strict=True)] == [True] * len(
        expected
    )
    assert not Identity.objects.filter(tenant=dirs.tenant).exists()


@pytest.mark.parametrize("value,problem", HOSTILE)
@pytest.mark.parametrize("field", ["first_name", "last_name", "job_title"])
def test_a_client_admins_ask_to_onboard_refuses_it_too(alpha, field, value, problem):
    data = {"first_name": "Ada", "last_name": "Lovelace", "start_date": "2027-01-04"}
    form = OnboardActionForm({**data, field: value}, tenant=alpha.tenant)
    assert not form.is_valid()
    assert form.errors[field] == [problem[0].upper() + problem[1:]]
    assert OnboardActionForm(data, tenant=alpha.tenant).is_valid()
