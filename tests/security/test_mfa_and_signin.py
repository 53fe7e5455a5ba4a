"""Issue 12, items 3 and 9 and the staff password reset: every way in asks for the second
factor of a person who has one, changing it needs the password again, and sign-ins, refusals
and resets are in the audit trail (without a password or a code), within a budget."""

from __future__ import annotations

import json
import re
import time
import uuid
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from portal import ratelimit, signin, unrecorded
from portal.audit.models import AuditEvent
from portal.mfa import REAUTH_SESSION_KEY
from portal.models import Role
from tests.factories import PASSWORD, freeze_minute, make_person, signed_in
from tests.test_login import login, totp_now

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-new-and-long-passphrase-42"


@pytest.fixture(autouse=True)
def _own_rate_counters(settings, monkeypatch):
    """Counters of this test only (the cache outlives a test, and Redis is shared), in one
    window: a test that crossed a minute boundary would see two windows' budgets."""
    settings.REDIS_KEY_PREFIX = f"test-c-{uuid.uuid4().hex}"
    start_of_a_minute = (time.time() // 60) * 60
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: start_of_a_minute))


@pytest.fixture
def admin_with_app(msp_admin):
    TOTPDevice.objects.create(user=msp_admin, name="phone", confirmed=True)
    return msp_admin


def app_of(user) -> TOTPDevice:
    return TOTPDevice.objects.get(user=user, confirmed=True)


def fresh_code(device: TOTPDevice) -> str:
    """The current code, usable again (django-otp refuses a code it has accepted before)."""
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    device.refresh_from_db()
    return totp_now(device)


def events(action: str):
    return AuditEvent.objects.filter(action=action).order_by("seq")


def age_reauth(client, seconds: int = 301) -> None:
    session = client.session
    session[REAUTH_SESSION_KEY] = int(time.time()) - seconds
    session.save()


def enrol(client, user) -> list[str]:
    """Set up an authenticator app through the pages; the recovery codes shown."""
    client.get(reverse("mfa_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(reverse("mfa_enrol"), {"token": totp_now(device)})
    assert response.status_code == 200, response.content.decode()[:500]
    return re.findall(r"<code>([a-z2-7]{4})-([a-z2-7]{4})</code>", response.content.decode())


# -- every way in ----------------------------------------------------------------------------


def test_admin_login_with_the_password_alone_opens_nothing(client, admin_with_app, alpha):
    response = client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": "msp-admin", "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session
    for url in (reverse("dashboard"), reverse("tenant_list"), reverse("staff_list")):
        page = client.get(url)
        assert page.status_code == 302 and page["Location"].startswith(reverse("login")), url
    admin_page = client.get(reverse("admin:index"), follow=True)
    assert admin_page.redirect_chain[-1][0].startswith(reverse("login"))
    assert "Django administration" not in admin_page.content.decode()


def test_a_session_without_the_second_factor_is_sent_to_it_everywhere(client, admin_with_app):
    client.force_login(admin_with_app)  # a password-only session, however it was made
    for url in (reverse("dashboard"), reverse("admin:index"), reverse("staff_list")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("mfa") + "?next="), url
    refused = client.post(reverse("staff_create"), {"username": "x"})
    assert refused.status_code == 302 and refused["Location"] == reverse("mfa")
    no_replacing = client.get(reverse("mfa_enrol"))
    assert no_replacing.status_code == 302 and no_replacing["Location"].startswith(reverse("mfa"))
    half_signed_in = client.session.session_key  # a cookie planted before may be this one
    passed = client.post(
        reverse("mfa"), {"token": totp_now(app_of(admin_with_app)), "next": "/admin/"}
    )
    assert passed.status_code == 302 and passed["Location"] == "/admin/"
    # Passing the second factor is a sign-in: the session gets a new key (OWASP session
    # management: renew the id on any privilege change), so the old cookie opens nothing.
    assert client.session.session_key != half_signed_in
    planted = Client()
    planted.cookies[settings.SESSION_COOKIE_NAME] = half_signed_in
    assert planted.get(reverse("dashboard")).status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("dashboard")).status_code == 200
    assert events("auth.second_factor_passed").get().actor_username == "msp-admin"


def test_a_code_works_once_in_its_window_whichever_way_in(admin_with_app):
    """Someone who saw a code typed (over a shoulder, in a phished form) and has the password
    gets nothing with it in the same 30 seconds: neither at the sign-in nor at the two-step
    page of a session of their own."""
    code = totp_now(app_of(admin_with_app))
    assert login(Client(), "msp-admin", otp_token=code).status_code == 302  # the owner
    assert login(Client(), "msp-admin", otp_token=code).status_code == 200  # refused
    other = Client()
    other.force_login(admin_with_app)
    assert other.post(reverse("mfa"), {"token": code}).status_code == 200
    assert other.get(reverse("dashboard")).status_code == 302


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "99999999999999999999", "javascript:x"]
)
def test_the_admin_sign_in_sends_nowhere_else(client, admin_with_app, target):
    response = client.get(reverse("admin:login"), {"next": target})
    assert response["Location"] == reverse("login") + "?next=%2Fadmin%2F"
    login(client, "msp-admin", otp_token=totp_now(app_of(admin_with_app)))
    assert client.get(reverse("admin:login"), {"next": target})["Location"] == "/admin/"
    unverified = Client()  # the two-step page's own `next`
    unverified.force_login(admin_with_app)
    code = fresh_code(app_of(admin_with_app))
    passed = unverified.post(reverse("mfa"), {"token": code, "next": target})
    assert passed.status_code == 302 and passed["Location"] == reverse("dashboard")


def test_the_admin_signs_in_through_the_portal_with_the_code(client, admin_with_app):
    response = login(
        client, "msp-admin", otp_token=totp_now(app_of(admin_with_app)), next="/admin/"
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_admin_does_not_show_or_change_devices(client, admin_with_app):
    login(client, "msp-admin", otp_token=totp_now(app_of(admin_with_app)))
    body = client.get(reverse("admin:index")).content.decode()
    assert "TOTP" not in body and "Static device" not in body


# -- enrolment, replacement, recovery codes -------------------------------------------------


def test_setting_up_an_app_needs_the_password_again(client, alpha):
    technician = alpha.technician
    client.force_login(technician)  # no password typed in this session
    response = client.get(reverse("mfa_enrol"))
    assert response.status_code == 302
    assert response["Location"] == reverse("reauth") + "?next=%2Faccount%2Fmfa%2Fenrol%2F"
    assert not TOTPDevice.objects.filter(user=technician).exists()  # no key made yet
    wrong = client.post(reverse("reauth"), {"password": "not-it", "next": "/account/mfa/enrol/"})
    assert "That is not your password." in wrong.content.decode()
    failed = events("auth.reauth_failed").get()
    assert failed.actor_username == technician.username and failed.result == "failure"
    right = client.post(reverse("reauth"), {"password": PASSWORD, "next": "/account/mfa/enrol/"})
    assert right.status_code == 302 and right["Location"] == "/account/mfa/enrol/"
    assert events("auth.reauth").get().actor_username == technician.username
    codes = enrol(client, technician)
    assert len(codes) == 10
    enrolled = events("staff.mfa_enrolled").get()
    assert enrolled.target_id == str(technician.pk) and enrolled.tenant_id is None
    assert enrolled.after == {"replaced_earlier_app": False, "recovery_codes": 10}


def test_the_setup_pages_are_marked_in_the_menu(client, alpha):
    """Setting up the app and its recovery codes are pages of Two-step sign-in: its menu link
    says where they are (it was marked on /account/mfa/ alone)."""
    signed_in(client, alpha.technician)
    menu_link = '<a href="/account/mfa/" class="active">Two-step sign-in</a>'
    assert menu_link in client.get(reverse("mfa_enrol")).content.decode()
    device = TOTPDevice.objects.get(user=alpha.technician, confirmed=False)
    codes = client.post(reverse("mfa_enrol"), {"token": totp_now(device)}).content.decode()
    assert "recovery codes" in codes.lower() and menu_link in codes
    assert menu_link in client.get(reverse("mfa_recovery_codes")).content.decode()


def test_a_stale_password_is_asked_again_even_after_signing_in(client, alpha):
    login(client, "tech-alpha")
    assert client.get(reverse("mfa_enrol")).status_code == 200  # just signed in: fresh
    age_reauth(client)
    assert client.get(reverse("mfa_enrol"))["Location"].startswith(reverse("reauth"))
    device = TOTPDevice.objects.get(user=alpha.technician, confirmed=False)
    posted = client.post(reverse("mfa_enrol"), {"token": totp_now(device)})
    assert posted["Location"].startswith(reverse("reauth"))
    device.refresh_from_db()
    assert not device.confirmed


def test_replacing_the_app_retires_the_old_one_and_its_codes(client, alpha):
    login(client, "tech-alpha")
    old_codes = enrol(client, alpha.technician)
    old_app = app_of(alpha.technician)
    age_reauth(client)
    assert client.get(reverse("mfa_enrol"))["Location"].startswith(reverse("reauth"))
    client.post(reverse("reauth"), {"password": PASSWORD})
    enrol(client, alpha.technician)
    assert not TOTPDevice.objects.filter(pk=old_app.pk).exists()
    assert events("staff.mfa_enrolled").last().after["replaced_earlier_app"] is True
    client.post(reverse("logout"))
    old_code = "".join(old_codes[0])
    assert login(client, "tech-alpha", otp_token=old_code).status_code == 200  # refused


def test_a_recovery_code_signs_in_once(client, alpha):
    login(client, "tech-alpha")
    codes = ["-".join(pair) for pair in enrol(client, alpha.technician)]
    client.post(reverse("logout"))
    assert login(client, "tech-alpha", otp_token=codes[0].upper()).status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    sign_in = events("auth.login").last()
    assert sign_in.after == {"second_factor": "recovery code"}
    assert events("auth.recovery_code_used").get().after == {"recovery_codes_left": 9}
    client.post(reverse("logout"))
    again = login(client, "tech-alpha", otp_token=codes[0])
    assert again.status_code == 200 and "or a recovery code" in again.content.decode()
    assert "_auth_user_id" not in client.session
    StaticDevice.objects.update(throttling_failure_count=0)  # a wrong code slows the next
    assert login(client, "tech-alpha", otp_token=codes[1]).status_code == 302


def test_new_recovery_codes_need_the_password_and_end_the_old_ones(client, alpha):
    login(client, "tech-alpha")
    old = ["".join(pair) for pair in enrol(client, alpha.technician)]
    age_reauth(client)
    stale = client.post(reverse("mfa_recovery_codes"))
    assert stale["Location"].startswith(reverse("reauth"))
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(old)
    client.post(reverse("reauth"), {"password": PASSWORD})
    page = client.post(reverse("mfa_recovery_codes")).content.decode()
    new = ["".join(pair) for pair in re.findall(r"<code>(\w{4})-(\w{4})</code>", page)]
    assert len(new) == 10 and not set(new) & set(old)
    assert set(StaticToken.objects.values_list("token", flat=True)) == set(new)
    assert events("staff.recovery_codes_generated").get().actor_username == "tech-alpha"


# -- an MSP admin resets another person's second factor --------------------------------------


def test_an_msp_admin_resets_a_lost_phone(client, admin_with_app, alpha):
    technician = alpha.technician
    TOTPDevice.objects.create(user=technician, name="phone", confirmed=True)
    StaticDevice.objects.create(user=technician, name="codes", confirmed=True)
    login(client, "msp-admin", otp_token=totp_now(app_of(admin_with_app)))
    url = reverse("staff_mfa_reset", kwargs={"person_id": technician.pk})
    assert (
        "Reset two-step sign-in"
        in client.get(reverse("staff_edit", kwargs={"person_id": technician.pk})).content.decode()
    )
    response = client.post(url, follow=True)
    assert "Two-step sign-in of tech-alpha was reset." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=technician).exists()
    assert not StaticDevice.objects.filter(user=technician).exists()
    reset = events("staff.mfa_reset").get()
    assert reset.actor_username == "msp-admin" and reset.target_id == str(technician.pk)
    assert reset.before == {"devices": 2}
    other = Client()
    assert login(other, "tech-alpha").status_code == 302  # the password alone again


def test_a_reset_msp_admin_must_enrol_again_when_it_is_required(client, settings, alpha):
    settings.REQUIRE_ADMIN_MFA = True
    first = make_person("first-admin", Role.MSP_ADMIN)
    second = make_person("second-admin", Role.MSP_ADMIN)
    for person in (first, second):
        TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
    login(client, "first-admin", otp_token=totp_now(app_of(first)))
    client.post(reverse("staff_mfa_reset", kwargs={"person_id": second.pk}))
    other = Client()
    assert login(other, "second-admin").status_code == 302
    response = other.get(reverse("dashboard"))
    assert response["Location"].startswith(reverse("mfa"))
    assert "Scan this code" in other.get(reverse("mfa")).content.decode()


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_only_an_msp_admin_may_reset_a_second_factor(client, alpha, admin_with_app, role):
    client.force_login(alpha.people[role])
    url = reverse("staff_mfa_reset", kwargs={"person_id": admin_with_app.pk})
    assert client.post(url).status_code == 403
    assert TOTPDevice.objects.filter(user=admin_with_app).exists()
    assert not events("staff.mfa_reset").exists()


def test_an_msp_admin_replaces_their_own_app_themselves(client, admin_with_app):
    login(client, "msp-admin", otp_token=totp_now(app_of(admin_with_app)))
    client.post(reverse("staff_mfa_reset", kwargs={"person_id": admin_with_app.pk}))
    assert TOTPDevice.objects.filter(user=admin_with_app).exists()


# -- sign-ins in the audit trail -------------------------------------------------------------


def test_every_kind_of_sign_in_is_audited_without_a_password(client, settings, alpha):
    settings.SECURITY_EVENTS_PER_MINUTE = 100
    technician = alpha.technician
    device = TOTPDevice.objects.create(user=technician, name="phone", confirmed=True)
    wrong_code = f"{(int(totp_now(device)) + 1) % 1_000_000:06d}"
    login(client, "tech-alpha", "Wrong-Password-Typed-1")
    login(client, "nobody-here", "Another-Wrong-Password-2")
    login(client, "tech-alpha", otp_token=wrong_code)
    login(client, "tech-alpha", otp_token=fresh_code(device))
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "am-alpha", "Wrong-Password-Typed-3")
    assert login(client, "am-alpha").status_code == 429

    failed = list(events("auth.login_failed").values_list("after", flat=True))
    assert {"username": "tech-alpha"} in failed and {"username": "nobody-here"} in failed
    assert events("auth.second_factor_failed").get().target_id == str(technician.pk)
    signed_in = events("auth.login").get()
    assert signed_in.actor_username == "tech-alpha"
    assert signed_in.after == {"second_factor": "authenticator app"}
    assert events("auth.logout").get().actor_username == "tech-alpha"
    locked = events("auth.locked_out").get()  # once, though every later attempt is refused
    assert locked.after["username"] == "am-alpha"
    # A technician's on the MSP-wide chain; an account manager of Alpha's on Alpha's
    # (tests/reports/test_audit_client_people.py).
    for event in AuditEvent.objects.filter(action__startswith="auth."):
        bound = (
            alpha.tenant.pk if "am-alpha" in (event.actor_username, event.target_display) else None
        )
        assert event.tenant_id == bound and event.source_ip == "127.0.0.1", event.action
    dumped = json.dumps(list(AuditEvent.objects.values()), default=str)
    for secret in ("Wrong-Password", "Another-Wrong", PASSWORD, wrong_code, device.key):
        assert secret not in dumped


def test_a_wrong_code_at_the_two_step_page_is_audited(client, admin_with_app):
    client.force_login(admin_with_app)
    response = client.post(reverse("mfa"), {"token": "000000"})
    assert "did not match" in response.content.decode()
    failed = events("auth.second_factor_failed").get()
    assert failed.actor_username == "msp-admin" and failed.result == "failure"
    assert "000000" not in json.dumps(failed.after)


# -- refused requests --------------------------------------------------------------------------


def test_a_refused_change_is_a_security_event(client, alpha):
    client.force_login(alpha.technician)
    assert client.post(reverse("staff_create"), {"username": "mallory"}).status_code == 403
    event = events("security.request_refused").get()
    assert event.result == "denied" and event.tenant_id is None
    assert event.actor_username == "tech-alpha" and event.source_ip == "127.0.0.1"
    assert event.after == {
        "username": "tech-alpha",
        "method": "POST",
        "path": "/staff/new/",
        "reason": "Your role may not do this.",
    }
    assert client.get(reverse("staff_create")).status_code == 403
    assert events("security.request_refused").count() == 1  # reading is not a change


def test_a_change_aimed_at_another_tenant_is_a_security_event(client, alpha, bravo):
    """Another tenant's object answers 404, as one that does not exist, so that nobody learns
    what is there; the attempt is still on the trail, or a person probing other clients' ids
    left no trace. Every 404 to a signed-in change is recorded alike, whether or not the
    object exists: the trail a client admin reads must not tell them either."""
    client.force_login(alpha.client_admin)
    theirs = reverse("role_create", kwargs={"tenant": bravo.tenant.slug})
    nobodys = reverse("role_create", kwargs={"tenant": "no-such-client"})
    for url in (theirs, nobodys):
        assert client.post(url, {"name": "x"}).status_code == 404
    refused = list(events("security.request_refused"))
    assert [e.after["path"] for e in refused] == [theirs, nobodys]
    assert {e.after["reason"] for e in refused} == {"Not found, or not yours to change."}
    assert {e.tenant_id for e in refused} == {alpha.tenant.pk}  # the client admin's own trail
    assert all(e.actor_username == alpha.client_admin.username for e in refused)
    assert client.get(theirs).status_code == 404
    assert client.post(reverse("logout")).status_code == 302
    assert client.post(theirs, {"name": "x"}).status_code == 302  # signed out: to the sign-in
    assert events("security.request_refused").count() == 2  # reads and outsiders are not


def test_a_csrf_failure_is_a_security_event(alpha):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(reverse("login"), {"username": "tech-alpha", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session
    event = events("security.request_refused").get()
    assert event.actor_kind == "anonymous"
    assert event.after["reason"] == "CSRF check failed." and event.after["path"] == "/login/"
    assert PASSWORD not in json.dumps(event.after)


@pytest.mark.usefixtures("one_minute")
def test_a_flood_of_refusals_is_recorded_within_the_budget(client, settings, alpha, bravo):
    settings.SECURITY_EVENTS_PER_MINUTE = 3
    settings.SECURITY_EVENTS_PER_MINUTE_TOTAL = 5
    client.force_login(alpha.technician)
    for _ in range(20):
        assert client.post(reverse("staff_create")).status_code == 403
    assert events("security.request_refused").count() == 3
    for person in (bravo.technician, bravo.account_manager):
        other = Client()
        other.force_login(person)
        for _ in range(5):
            assert other.post(reverse("staff_create")).status_code == 403
    # Each source keeps its own 3; all together stop at 5 a minute.
    by_person = list(events("security.request_refused").values_list("actor_username", flat=True))
    assert by_person == ["tech-alpha"] * 3 + ["tech-bravo"] * 2


@pytest.mark.usefixtures("one_minute")
def test_failed_sign_ins_are_recorded_within_the_budget(client, settings, alpha):
    settings.SECURITY_EVENTS_PER_MINUTE = 4
    settings.AXES_FAILURE_LIMIT = 1000
    for number in range(30):
        login(client, f"guess-{number}", "wrong")
    assert events("auth.login_failed").count() == 4


@pytest.mark.usefixtures("one_minute")
def test_a_sender_moving_through_its_ipv6_network_is_one_source_of_the_budget(
    client, settings, alpha
):
    """Each IPv6 address was a source with a budget of its own, so one host moving through
    its /64 spent the whole minute's total, and another sender's failed sign-ins went
    unrecorded; its /64 is now one source, as the rate limits count a client (attack21)."""
    settings.SECURITY_EVENTS_PER_MINUTE = 4
    settings.SECURITY_EVENTS_PER_MINUTE_TOTAL = 6
    settings.AXES_FAILURE_LIMIT = 1000
    for number in range(30):
        form = {"username": f"guess-{number}", "password": "wrong"}
        client.post(reverse("login"), form, REMOTE_ADDR=f"2001:db8:5:1::{number:x}")
    client.post(reverse("login"), {"username": "tech-alpha", "password": "wrong"},
                REMOTE_ADDR="192.0.2.77")  # fmt: skip
    failed = events("auth.login_failed").values_list("after__username", flat=True)
    assert len(failed) == 5 and "tech-alpha" in failed


def test_failed_sign_ins_past_the_budget_leave_one_summary_each_minute(client, settings, alpha):
    """Past the budget, failed sign-ins reached only the log: the trail never said that 26
    went unrecorded. Once the minute has ended, one event on the MSP's trail says how many
    (attack21), and a later run of the clock does not say it again."""
    settings.SECURITY_EVENTS_PER_MINUTE = 4
    settings.AXES_FAILURE_LIMIT = 1000
    minute = int(time.time() // unrecorded.WINDOW_SECONDS)
    with freeze_minute(minute):
        for number in range(30):
            login(client, f"guess-{number}", "wrong")
        assert signin.summarise_unrecorded() == 0  # the minute has not ended
    with freeze_minute(minute + 1):
        assert signin.summarise_unrecorded() == 1
        assert signin.summarise_unrecorded() == 0
    assert events("auth.login_failed").count() == 4
    summary = events("security.events_unrecorded").get()
    assert (summary.tenant_id, summary.after["unrecorded"], summary.after["per_source"]) == (
        None,
        26,
        4,
    )


# -- staff password reset --------------------------------------------------------------------


def ask_reset(client, email: str, **extra):
    return client.post(reverse("password_reset"), {"email": email}, **extra)


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def test_the_reset_page_says_the_same_whether_or_not_the_address_exists(client, alpha):
    known = ask_reset(client, "tech-alpha@msp.test")
    unknown = ask_reset(client, "nobody@msp.test")
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["tech-alpha@msp.test"]
    requested = list(events("auth.password_reset_requested").values_list("after", flat=True))
    assert requested == [
        {"username": "tech-alpha", "email": "tech-alpha@msp.test", "accounts": 1},
        {"username": "", "email": "nobody@msp.test", "accounts": 0},
    ]
    assert "Forgot your password?" in client.get(reverse("login")).content.decode()


def test_the_reset_link_names_our_address_not_the_requests_host(client, settings, alpha):
    settings.ALLOWED_HOSTS = ["*"]
    settings.PORTAL_URL = "https://portal.example.com"
    ask_reset(client, "tech-alpha@msp.test", HTTP_HOST="attacker.example")
    link = link_in(mail.outbox[0])
    assert link.startswith("https://portal.example.com/password-reset/")
    assert "attacker" not in mail.outbox[0].body


def test_a_reset_link_works_once_and_does_not_skip_the_second_factor(client, settings, alpha):
    settings.PORTAL_URL = "http://testserver"
    technician = alpha.technician
    device = TOTPDevice.objects.create(user=technician, name="phone", confirmed=True)
    earlier = Client()  # a session opened before the reset: perhaps the reason for it
    assert login(earlier, "tech-alpha", otp_token=totp_now(device)).status_code == 302
    ask_reset(client, "tech-alpha@msp.test")
    path = link_in(mail.outbox[0]).removeprefix("http://testserver")
    form_page = client.get(path, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse("password_reset_complete")
    assert "_auth_user_id" not in client.session  # a reset does not sign in
    assert earlier.get(reverse("dashboard")).status_code == 302  # the new password ends it
    assert events("auth.password_reset_done").get().target_id == str(technician.pk)
    again = Client().get(path, follow=True).content.decode()
    assert "This link no longer works" in again
    assert login(client, "tech-alpha", NEW_PASSWORD).status_code == 200  # the code is missing
    assert (
        login(client, "tech-alpha", NEW_PASSWORD, otp_token=fresh_code(device)).status_code == 302
    )
    dumped = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert NEW_PASSWORD not in dumped and path.split("/")[-2] not in dumped


@pytest.mark.usefixtures("one_minute")
def test_reset_requests_are_limited_per_address_alike_for_unknown_ones(client, settings, alpha):
    settings.PASSWORD_RESETS_PER_EMAIL_PER_HOUR = 2
    for email in ("tech-alpha@msp.test", "nobody@msp.test"):
        assert ask_reset(client, email).status_code == 302
        assert ask_reset(client, email.upper()).status_code == 302
        refused = ask_reset(client, email)
        assert refused.status_code == 429
        assert "Too many reset requests" in refused.content.decode()
    assert len(mail.outbox) == 2


@pytest.mark.usefixtures("one_minute")
def test_reset_requests_are_limited_per_client_address(client, settings, alpha):
    settings.PASSWORD_RESETS_PER_CLIENT_PER_HOUR = 2
    assert ask_reset(client, "a@msp.test").status_code == 302
    assert ask_reset(client, "b@msp.test").status_code == 302
    refused = ask_reset(client, "tech-alpha@msp.test")
    assert refused.status_code == 429 and mail.outbox == []
    # RFC 6585 §4: when to ask again, the seconds left in the hour the limit counts.
    now = int(ratelimit.time.time())  # the counters' clock, held by _own_rate_counters
    assert refused["Retry-After"] == str((now // 3600 + 1) * 3600 - now)
    elsewhere = ask_reset(client, "tech-alpha@msp.test", REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 302 and len(mail.outbox) == 1


def test_the_pages_that_show_an_authenticator_key_or_recovery_codes_are_not_stored(client, alpha):
    """The key and the codes are shown once, as the portal's other secrets are: with
    Cache-Control no-store, so no browser or proxy cache keeps a copy (they had none)."""
    login(client, "tech-alpha")
    setup = client.get(reverse("mfa_enrol"))
    assert setup.status_code == 200 and "no-store" in setup["Cache-Control"]
    device = TOTPDevice.objects.get(user=alpha.technician, confirmed=False)
    shown = client.post(reverse("mfa_enrol"), {"token": totp_now(device)})
    assert re.search(r"<code>\w{4}-\w{4}</code>", shown.content.decode())
    assert "no-store" in shown["Cache-Control"]
    again = client.post(reverse("mfa_recovery_codes"))
    assert again.status_code == 200 and "no-store" in again["Cache-Control"]


# -- staff changes: who may sign in, and as what --------------------------------------------


def test_staff_changes_need_the_password_typed_lately(client, alpha, msp_admin):
    """A session taken over without the password (a stolen cookie) cannot make itself an MSP
    admin, give a technician every tenant or strip someone's second factor."""
    signed_in(client, msp_admin, seconds_ago=301)
    technician = alpha.technician
    TOTPDevice.objects.create(user=technician, name="phone", confirmed=True)
    edit = reverse("staff_edit", kwargs={"person_id": technician.pk})
    promote = {"username": technician.username, "role": Role.MSP_ADMIN, "is_active": "on"}
    create = {"username": "new-admin", "role": Role.MSP_ADMIN, "password": NEW_PASSWORD}
    asked = [
        client.get(edit),
        client.post(edit, promote),
        client.get(reverse("staff_create")),
        client.post(reverse("staff_create"), create),
        client.post(reverse("staff_mfa_reset", kwargs={"person_id": technician.pk})),
    ]
    assert {r["Location"].split("?")[0] for r in asked} == {reverse("reauth")}
    technician.profile.refresh_from_db()
    assert technician.profile.role == Role.TECHNICIAN
    assert not get_user_model().objects.filter(username="new-admin").exists()
    assert TOTPDevice.objects.filter(user=technician, confirmed=True).exists()
    assert not AuditEvent.objects.filter(action__startswith="staff.").exists()

    typed = client.post(reverse("reauth"), {"password": PASSWORD, "next": edit})
    assert typed["Location"] == edit
    assert client.post(edit, promote).status_code == 302
    technician.profile.refresh_from_db()
    assert technician.profile.role == Role.MSP_ADMIN
