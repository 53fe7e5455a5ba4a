"""Django admin: the trail is readable there and nothing else (no add, change or delete)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditChainHead, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = (
        "timestamp",
        "tenant_name",
        "actor_display",
        "action",
        "target_display",
        "result",
    )
    list_filter = ("result", "actor_kind")
    # Exact look-ups only; the filtered, indexed search lives in the audit pages.
    search_fields = ("=action", "=target_id", "=request_id", "=job_id")
    show_full_result_count = False  # no COUNT(*) over a million rows on each page
    list_per_page = 50


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(ReadOnlyAdmin):
    list_display = ("chain_key", "seq", "hash", "key_id", "signed_at")
