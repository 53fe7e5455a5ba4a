"""The beat task applies each tenant's own retention, and every chain still verifies."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from portal.audit.bulk import append_events, history_event
from portal.audit.models import AuditEvent, chain_key_for
from tenants.tasks import apply_audit_retention

pytestmark = pytest.mark.django_db


def age(tenant, days_ago: list[int]) -> None:
    now = timezone.now()
    append_events(
        history_event(
            "job.finish", timestamp=now - timedelta(days=d), actor="system", tenant=tenant
        )
        for d in sorted(days_ago, reverse=True)
    )


def test_each_tenant_keeps_its_own_retention(alpha, bravo, capsys):
    alpha.tenant.audit_retention_days = 30
    alpha.tenant.save()
    age(alpha.tenant, [90, 60, 31, 10])
    age(bravo.tenant, [90, 60, 31, 10])  # bravo keeps the default 400 days
    before_bravo = AuditEvent.objects.filter(chain_key=chain_key_for(bravo.tenant.pk)).count()
    assert apply_audit_retention() == 1
    alpha_events = AuditEvent.objects.filter(chain_key=chain_key_for(alpha.tenant.pk))
    assert not alpha_events.filter(timestamp__lt=timezone.now() - timedelta(days=30)).exists()
    assert alpha_events.filter(action="audit.prune").count() == 1
    assert AuditEvent.objects.filter(chain_key=chain_key_for(bravo.tenant.pk)).count() == (
        before_bravo
    )
    call_command("verify_audit")
    assert "intact" in capsys.readouterr().out
