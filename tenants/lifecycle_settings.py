"""A tenant's lifecycle settings: its offboarding preset and its circuit breaker, saved together
in one transaction with one audit event that holds both before and after."""

from __future__ import annotations

from django.db import transaction

from portal.audit.events import record, snapshot
from tenants.models import OffboardingPreset, Tenant

# A leaver's mail, files and reports (provisioning/engine/mailbox.py).
HANDOVER_FIELDS = [
    "auto_reply",
    "auto_reply_message",
    "forward_to_manager",
    "files_to_manager",
    "reassign_reports",
    "convert_to_shared_mailbox",
    "hide_from_address_list",
]
PRESET_FIELDS = [
    "block_sign_in",
    "okta_mode",
    "revoke_sessions",
    "reset_password",
    "remove_groups",
    "keep_groups",
    "remove_licenses",
    "remove_apps",
    "delete_after_days",
    *HANDOVER_FIELDS,
]
TENANT_FIELDS = ["offboard_hold_percent", "offboard_hold_count", "link_existing_accounts"]


def preset_of(tenant: Tenant) -> OffboardingPreset:
    """The tenant's preset, or an unsaved one with the defaults (created on first save)."""
    return OffboardingPreset.objects.filter(tenant=tenant).first() or OffboardingPreset(
        tenant=tenant
    )


def save_lifecycle_settings(
    tenant: Tenant, preset: OffboardingPreset, *, actor, request=None
) -> None:
    """Save the edited `tenant` and `preset` (unsaved changes on both) with one audit event."""
    with transaction.atomic():
        stored = Tenant.objects.select_for_update().get(pk=tenant.pk)
        old_preset = OffboardingPreset.objects.filter(tenant=tenant).first()
        before = snapshot(stored, TENANT_FIELDS) | (
            {f"preset.{k}": v for k, v in snapshot(old_preset, PRESET_FIELDS).items()}
            if old_preset
            else {"preset": None}
        )
        tenant.save(update_fields=TENANT_FIELDS)
        preset.tenant = tenant
        if old_preset is not None:
            preset.pk = old_preset.pk
        preset.save()
        after = snapshot(tenant, TENANT_FIELDS) | {
            f"preset.{k}": v for k, v in snapshot(preset, PRESET_FIELDS).items()
        }
        record(
            "tenant.lifecycle_update",
            actor=actor,
            tenant=tenant,
            target=tenant,
            before=before,
            after=after,
            request=request,
        )
