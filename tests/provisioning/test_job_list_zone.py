"""The Jobs list tells times in the tenant's zone when it lists one tenant's jobs (a client
admin's, an account manager's of one client, or filtered to one tenant), as the client
home, the job page and the audit trail do: a Northwind client admin read "Join #12 ...
14:47" on Jobs and "15:47" for the same job on their home."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.models import Role
from provisioning.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def berlin_job(alpha):
    alpha.tenant.time_zone = "Europe/Berlin"
    alpha.tenant.save(update_fields=["time_zone"])
    Job.objects.filter(pk=alpha.job.pk).update(created_at=datetime(2026, 12, 7, 14, 47, tzinfo=UTC))
    return alpha.job


def created(page: str) -> list[str]:
    return re.findall(r"Created </span>([^<]+)</td>", page)


@pytest.mark.parametrize("role", [Role.CLIENT_ADMIN, Role.ACCOUNT_MANAGER])
def test_one_tenants_jobs_are_timed_in_its_zone(client, alpha, berlin_job, role):
    client.force_login(alpha.people[role])
    page = client.get(reverse("job_list")).text
    assert "Times and dates in Europe/Berlin." in page
    assert created(page) == ["7 Dec 2026 15:47"]


def test_a_technician_filtering_to_one_tenant_reads_its_zone(client, alpha, bravo, berlin_job):
    client.force_login(alpha.technician)
    page = client.get(reverse("job_list"), {"tenant": alpha.tenant.slug}).text
    assert "Times and dates in Europe/Berlin." in page
    assert created(page) == ["7 Dec 2026 15:47"]
