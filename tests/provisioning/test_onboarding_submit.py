"""The submit of an onboarding (services.request_onboarding): the identity, its templates, its
job and its audit event, in one transaction. On PostgreSQL the identity's INSERT also reads
the tenant's audit chain head without a lock, as the append's guess; these tests hold the
chain to its real end when that guess is stale."""

from __future__ import annotations

import pytest
from django.db.models.signals import post_save

from portal.audit import events
from portal.audit.events import record
from portal.audit.models import AuditChainHead, AuditEvent
from portal.audit.verify import verify_all
from provisioning import services
from provisioning.models import Identity

pytestmark = pytest.mark.django_db


def onboard(world, first: str):
    request = services.OnboardingRequest(
        first_name=first, last_name="Joiner", role_templates=[world.template]
    )
    username = f"{first.lower()}@{world.tenant.primary_domain}"
    return services.request_onboarding(world.tenant, request, username=username, actor="system")


def test_an_append_between_the_submits_read_of_the_head_and_its_own_chains_on_it(alpha):
    """Another writer appends to the tenant's chain after the submit read the head (here in
    the hook on the identity's save, then this process forgets it wrote it, as another
    process would have): the submit's guess misses and its event follows the other's."""
    others: list[AuditEvent] = []

    def append_elsewhere(sender, instance, created, **kwargs) -> None:
        if created and instance.first_name == "Kit":
            guessed = dict(events._known_heads)
            others.append(record("tenant.update", actor="system", tenant=alpha.tenant))
            events.forget_known_heads()
            events._known_heads.update(guessed)

    post_save.connect(append_elsewhere, sender=Identity, dispatch_uid="append-elsewhere")
    try:
        events.forget_known_heads()
        job = onboard(alpha, "Kit")
    finally:
        post_save.disconnect(sender=Identity, dispatch_uid="append-elsewhere")

    (other,) = others
    onboarded = AuditEvent.objects.get(action="identity.onboard", job_id=str(job.pk))
    assert (onboarded.seq, onboarded.prev_hash) == (other.seq + 1, other.hash)
    head = AuditChainHead.objects.get(chain_key=f"tenant:{alpha.tenant.pk}")
    assert (head.seq, head.hash) == (onboarded.seq, onboarded.hash)
    assert verify_all().ok


def test_submits_one_after_another_chain_in_order(alpha):
    """Each submit's guess is the head as the one before left it: one event each, in order."""
    events.forget_known_heads()
    jobs = [onboard(alpha, name) for name in ("Lee", "Max", "Ned")]

    onboarded = list(
        AuditEvent.objects.filter(action="identity.onboard", job_id__in=[str(j.pk) for j in jobs])
        .order_by("seq")
        .values_list("job_id", flat=True)
    )
    assert onboarded == [str(j.pk) for j in jobs]
    assert all(j.identity.role_templates.get() == alpha.template for j in jobs)
    assert verify_all().ok
