"""A password reset link mailed before its person was deactivated sets no password while
they are deactivated: Django's confirm view asks nothing of `is_active`, and a deactivation
changes nothing its token covers (attack16)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from portal.deactivation import withdraw_access
from tests.factories import PASSWORD

from .test_mfa_and_signin import NEW_PASSWORD, _own_rate_counters, ask_reset, link_in  # noqa: F401

User = get_user_model()


def _link_then_deactivated(client, settings, alpha, msp_admin) -> str:
    settings.PORTAL_URL = "http://testserver"
    ask_reset(client, "tech-alpha@msp.test")
    path = link_in(mail.outbox[0]).removeprefix("http://testserver")
    technician = alpha.technician
    technician.is_active = False
    technician.save()
    withdraw_access(technician, actor=msp_admin, reactivated=False)
    return path


def test_a_link_from_before_a_deactivation_sets_no_password(client, settings, alpha, msp_admin):
    path = _link_then_deactivated(client, settings, alpha, msp_admin)

    page = Client().get(path, follow=True)

    assert "This link no longer works" in page.content.decode()
    set_url = path.rsplit("/", 2)[0] + "/set-password/"
    Client().post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert User.objects.get(pk=alpha.technician.pk).check_password(PASSWORD)


def test_a_link_opened_before_the_deactivation_is_refused_at_its_submit(
    client, settings, alpha, msp_admin
):
    settings.PORTAL_URL = "http://testserver"
    ask_reset(client, "tech-alpha@msp.test")
    path = link_in(mail.outbox[0]).removeprefix("http://testserver")
    holder = Client()
    set_url = holder.get(path, follow=True).redirect_chain[-1][0]
    technician = alpha.technician
    technician.is_active = False
    technician.save()
    withdraw_access(technician, actor=msp_admin, reactivated=False)

    holder.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert User.objects.get(pk=technician.pk).check_password(PASSWORD)


def test_a_link_from_before_a_deactivation_stays_dead_after_a_reactivation(
    client, settings, alpha, msp_admin
):
    """Reactivated within the link's hour (a contractor back the same afternoon), the
    person gets a fresh start: the link mailed before, perhaps to a mailbox someone else
    now reads, sets nothing."""
    path = _link_then_deactivated(client, settings, alpha, msp_admin)
    technician = User.objects.get(pk=alpha.technician.pk)
    technician.is_active = True
    technician.save()
    withdraw_access(technician, actor=msp_admin, reactivated=True)

    page = Client().get(path, follow=True)

    assert "This link no longer works" in page.content.decode()
    set_url = path.rsplit("/", 2)[0] + "/set-password/"
    Client().post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert User.objects.get(pk=technician.pk).check_password(PASSWORD)


def test_a_link_asked_for_after_a_reactivation_works(client, settings, alpha, msp_admin):
    _link_then_deactivated(client, settings, alpha, msp_admin)
    technician = User.objects.get(pk=alpha.technician.pk)
    technician.is_active = True
    technician.save()
    withdraw_access(technician, actor=msp_admin, reactivated=True)
    mail.outbox.clear()
    ask_reset(client, "tech-alpha@msp.test")
    path = link_in(mail.outbox[0]).removeprefix("http://testserver")

    page = Client()
    set_url = page.get(path, follow=True).redirect_chain[-1][0]
    page.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})

    assert User.objects.get(pk=technician.pk).check_password(NEW_PASSWORD)
