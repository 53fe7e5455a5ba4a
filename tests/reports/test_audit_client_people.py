"""A client's own people are in the client's audit trail: a client admin's (and an account
manager's of some tenants) sign-ins, failed sign-ins, lockouts, sign-outs and staff changes
are recorded on the chain of their tenant(s), where that tenant's client admin and account
manager read and export them, and nobody of another tenant does (docs/audit.md, *Events
about people*). A failed sign-in for a username nobody has stays MSP-wide."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from portal import ratelimit
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from portal.models import Role
from tests.factories import make_person, signed_in
from tests.test_login import login

from .audit_support import csv_rows, export_url

pytestmark = pytest.mark.django_db

AUTH_ACTIONS = {"auth.login", "auth.logout", "auth.login_failed", "auth.locked_out"}


@pytest.fixture(autouse=True)
def _own_rate_counters(settings, monkeypatch):
    """This test's own security-event budget, in one window (as test_mfa_and_signin)."""
    settings.REDIS_KEY_PREFIX = f"test-c-{uuid.uuid4().hex}"
    settings.SECURITY_EVENTS_PER_MINUTE = 100
    start_of_a_minute = (time.time() // 60) * 60
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: start_of_a_minute))


def as_person(user) -> Client:
    browser = Client()
    signed_in(browser, user)
    return browser


def exported(user, **filters) -> list[dict[str, str]]:
    response = as_person(user).get(export_url(**filters))
    assert response.status_code == 200, response.status_code
    return csv_rows(response)


def auth_rows(rows, username: str) -> list[tuple[str, str]]:
    """(action, tenant) of the sign-in rows about `username`."""
    return sorted(
        (r["action"], r["tenant"])
        for r in rows
        if r["action"] in AUTH_ACTIONS and username in (r["actor_username"], r["target"])
    )


def sign_in_out_fail_and_lock(client, settings, username: str) -> None:
    assert login(client, username).status_code == 302
    assert client.post(reverse("logout")).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, username, "Wrong-Password-Typed-1")
    assert login(client, username).status_code == 429  # locked out


def test_a_client_admins_sign_ins_are_in_their_tenants_trail(
    client, settings, alpha, bravo, msp_admin
):
    sign_in_out_fail_and_lock(client, settings, "ca-alpha")
    login(client, "nobody-here", "Another-Wrong-Password-2")

    about_ca = AuditEvent.objects.filter(target_id=str(alpha.client_admin.pk))
    assert {e.action for e in about_ca} == AUTH_ACTIONS
    assert {(e.tenant_id, e.chain_key) for e in about_ca} == {
        (alpha.tenant.pk, f"tenant:{alpha.tenant.pk}")
    }
    assert about_ca.filter(action="auth.locked_out").count() == 1
    # Nobody has this username: no tenant can be known, and none is told it was tried.
    unknown = AuditEvent.objects.get(action="auth.login_failed", after__username="nobody-here")
    assert unknown.tenant_id is None and unknown.chain_key == "global"

    # Each failure, the one refused during the lockout too, is one row.
    assert about_ca.filter(action="auth.login_failed").count() > settings.AXES_FAILURE_LIMIT
    expected = sorted((e.action, "Alpha Ltd") for e in about_ca)
    # The tenant's own readers see them, on the page's export and with the tenant filter.
    for reader in (alpha.client_admin, alpha.account_manager):
        assert auth_rows(exported(reader), "ca-alpha") == expected, reader
        assert auth_rows(exported(reader, tenant="alpha"), "ca-alpha") == expected, reader
    page = as_person(alpha.client_admin).get(reverse("audit_list")).content.decode()
    assert "auth.login_failed" in page and "auth.locked_out" in page
    # The other tenant's never do (nor the unknown username's failure).
    for outsider in (bravo.client_admin, bravo.account_manager):
        body = b"".join(as_person(outsider).get(export_url()).streaming_content).decode()
        assert "ca-alpha" not in body and "nobody-here" not in body, outsider
        assert as_person(outsider).get(export_url(tenant="alpha")).status_code == 404
    # MSP admins still see everything, each event once.
    everything = exported(msp_admin)
    assert auth_rows(everything, "ca-alpha") == expected
    assert [r["tenant"] for r in everything if "nobody-here" in r["target"]] == [""]

    assert verify_all(alpha.tenant.pk).ok and verify_all().ok


def test_an_account_manager_of_two_tenants_is_in_both_trails_naming_only_each(
    client, settings, alpha, bravo, msp_admin
):
    manager = make_person("am-both", Role.ACCOUNT_MANAGER, [alpha.tenant, bravo.tenant])
    assert login(client, "am-both").status_code == 302
    logins = AuditEvent.objects.filter(action="auth.login", actor_username="am-both")
    assert sorted(logins.values_list("tenant_id", flat=True)) == sorted(
        [alpha.tenant.pk, bravo.tenant.pk]
    )
    for world in (alpha, bravo):
        assert [r["tenant"] for r in exported(world.client_admin) if r["action"] == "auth.login"]
        assert {
            r["tenant"] for r in exported(world.client_admin) if r["actor_username"] == "am-both"
        } == {world.tenant.name}
    # One who sees every tenant is bound to none: their sign-in stays MSP-wide.
    make_person("am-all", Role.ACCOUNT_MANAGER, all_tenants=True)
    assert login(Client(), "am-all").status_code == 302
    assert AuditEvent.objects.get(actor_username="am-all", action="auth.login").tenant_id is None

    # A staff change names only the chain's own tenant in each copy.
    staff = {
        "username": "am-both",
        "first_name": "Renamed",
        "last_name": "",
        "email": manager.email,
        "role": Role.ACCOUNT_MANAGER,
        "tenants": [alpha.tenant.pk, bravo.tenant.pk],
        "password": "",
        "is_active": "on",
    }
    edit = reverse("staff_edit", kwargs={"person_id": manager.pk})
    assert as_person(msp_admin).post(edit, staff).status_code == 302
    for world in (alpha, bravo):
        (row,) = [r for r in exported(world.client_admin) if r["action"] == "staff.update"]
        assert f'"tenants": ["{world.tenant.slug}"]' in row["after"]
        other = bravo if world is alpha else alpha
        assert other.tenant.slug not in row["after"] + row["before"]
    assert verify_all().ok


def test_a_client_admins_staff_changes_are_in_their_tenants_trail(client, alpha, bravo, msp_admin):
    """Created, password set, moved to another tenant, deactivated: each in the trail of the
    tenant it concerns, and moving away names no other client."""
    admin = as_person(msp_admin)
    staff = {
        "username": "ca-new",
        "first_name": "New",
        "last_name": "Admin",
        "email": "ca-new@example.test",
        "role": Role.CLIENT_ADMIN,
        "tenants": [alpha.tenant.pk],
        "password": "a-new-and-long-passphrase-42",
        "is_active": "on",
    }
    assert admin.post(reverse("staff_create"), staff).status_code == 302
    person = get_user_model().objects.get(username="ca-new")
    edit = reverse("staff_edit", kwargs={"person_id": person.pk})
    assert admin.post(edit, {**staff, "password": "another-long-passphrase-7"}).status_code == 302
    assert admin.post(edit, {**staff, "password": "", "is_active": ""}).status_code == 302
    assert (
        admin.post(edit, {**staff, "password": "", "tenants": [bravo.tenant.pk]}).status_code == 302
    )

    alpha_rows = [r for r in exported(alpha.client_admin) if r["target"] == "ca-new"]
    assert [r["action"] for r in alpha_rows] == ["staff.update"] * 3 + ["staff.create"]
    assert '"password_changed": true' in alpha_rows[2]["after"]
    assert '"is_active": false' in alpha_rows[1]["after"]
    moved = alpha_rows[0]  # newest first: the move, as Alpha sees it
    assert '"tenants": []' in moved["after"] and "bravo" not in moved["after"]
    (arrived,) = [r for r in exported(bravo.client_admin) if r["target"] == "ca-new"]
    assert '"tenants": ["bravo"]' in arrived["after"] and '"tenants": []' in arrived["before"]
    assert "alpha" not in arrived["before"] + arrived["after"]
    assert not [r for r in exported(msp_admin, tenant="@msp") if r["target"] == "ca-new"]
    assert verify_all().ok
