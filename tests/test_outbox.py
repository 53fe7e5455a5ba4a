"""The outbox: the demo's e-mail backend keeps what it sends; MSP admins read it."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from portal.mail import send_one_time_link
from portal.models import Role
from tenants.outbox.models import SentEmail

OUTBOX = "tenants.outbox.backend.OutboxBackend"


@pytest.fixture
def outbox_backend(settings):
    settings.EMAIL_BACKEND = OUTBOX


def test_the_demo_settings_keep_mail_in_the_outbox():
    from django.conf import settings

    # pytest-django swaps in locmem for tests; the module's own default is what the demo uses.
    from portal import settings as module

    assert module.EMAIL_BACKEND == OUTBOX and settings.EMAIL_BACKEND != OUTBOX


def test_the_backend_keeps_recipient_subject_and_body(db, outbox_backend):
    sent = mail.send_mail(
        "Access request waiting", "Open it here.", None, ["ca@example.test", "b@example.test"]
    )
    assert sent == 1
    email = SentEmail.objects.get()
    assert email.recipient_list == ["ca@example.test", "b@example.test"]
    assert (email.subject, email.body, email.body_withheld) == (
        "Access request waiting",
        "Open it here.",
        False,
    )


def test_a_one_time_link_is_kept_without_its_body_and_shown_on_the_console(
    db, outbox_backend, capsys
):
    link = "http://127.0.0.1:8000/first-sign-in/s3cret-token-value/"
    send_one_time_link("A first sign-in is waiting", f"Open {link} once.", "manager@example.test")
    email = SentEmail.objects.get()
    assert email.body_withheld and email.body == ""
    assert "s3cret-token-value" not in str(list(SentEmail.objects.values()))
    assert link in capsys.readouterr().err  # the operator's console, as before


def test_a_one_time_link_mail_carries_no_header_of_ours_over_smtp(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    send_one_time_link("Reset your password", "http://x/password-reset/a/b/", "t@c.test")
    headers = mail.outbox[0].message().keys()
    assert not [name for name in headers if name.lower().startswith("x-portal")]


def test_a_password_reset_link_never_reaches_the_outbox(client, alpha, outbox_backend, capsys):
    client.post(reverse("password_reset"), {"email": "tech-alpha@msp.test"})
    email = SentEmail.objects.get()
    assert email.recipient_list == ["tech-alpha@msp.test"] and email.body_withheld
    printed = capsys.readouterr().err
    link = re.search(r"http://\S+/password-reset/\S+/", printed).group(0)
    assert link not in str(list(SentEmail.objects.values()))


def test_msp_admin_reads_the_list_and_a_message(client, msp_admin, outbox_backend):
    mail.send_mail("Access request waiting", "Tenant: Contoso\nOpen it.", None, ["ca@c.test"])
    send_one_time_link("Reset your password", "http://x/password-reset/a/b/", "t@c.test")
    client.force_login(msp_admin)
    page = client.get(reverse("outbox_list"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Access request waiting" in text and "ca@c.test" in text
    assert "Reset your password" in text and "one-time link" in text
    kept = SentEmail.objects.get(subject="Access request waiting")
    detail = client.get(reverse("outbox_detail", args=[kept.pk]))
    assert "Tenant: Contoso\nOpen it." in detail.content.decode()
    withheld = SentEmail.objects.get(subject="Reset your password")
    detail = client.get(reverse("outbox_detail", args=[withheld.pk])).content.decode()
    assert 'id="body-withheld"' in detail and "password-reset/a/b" not in detail


def test_the_admins_navigation_links_the_outbox(client, msp_admin, alpha):
    client.force_login(msp_admin)
    assert reverse("outbox_list") in client.get(reverse("dashboard")).content.decode()
    client.force_login(alpha.technician)
    assert reverse("outbox_list") not in client.get(reverse("dashboard")).content.decode()


def test_a_page_number_out_of_bounds_shows_the_first_page(client, msp_admin):
    client.force_login(msp_admin)
    for page in ("abc", "0", "99999999999"):
        assert client.get(reverse("outbox_list"), {"page": page}).status_code == 200


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN])
def test_other_roles_get_403(client, alpha, role):
    email = SentEmail.objects.create(subject="Secretive", recipients="a@b.test", body="body-7f3e")
    client.force_login(alpha.people[role])
    for url in (reverse("outbox_list"), reverse("outbox_detail", args=[email.pk])):
        response = client.get(url)
        assert response.status_code == 403 and b"body-7f3e" not in response.content


def test_an_unknown_message_is_404_and_anonymous_is_sent_to_sign_in(client, msp_admin):
    client.force_login(msp_admin)
    assert client.get(reverse("outbox_detail", args=[999])).status_code == 404
    client.logout()
    response = client.get(reverse("outbox_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_list_and_a_message_name_the_zone_of_their_times(client, msp_admin, outbox_backend):
    mail.send_mail("Access request waiting", "Open it.", None, ["ca@c.test"])
    client.force_login(msp_admin)
    assert "<th>Sent (UTC)</th>" in client.get(reverse("outbox_list")).content.decode()
    kept = SentEmail.objects.get()
    detail = client.get(reverse("outbox_detail", args=[kept.pk])).content.decode()
    assert re.search(r"sent \d+ \w+ \d{4} \d\d:\d\d UTC<", detail)
