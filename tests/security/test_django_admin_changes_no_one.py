"""The Django admin is for looking: a person's password, role flags, or active state change
only through the staff pages, which record it on the trail of every tenant the person is bound
to. Django's own user admin let an MSP admin set a client admin's password and sign in as them
with nothing on the client's trail."""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_admin_sets_no_password_and_deactivates_no_one(client, alpha, msp_admin):
    person = alpha.client_admin
    client.force_login(msp_admin)
    events = AuditEvent.objects.count()
    new = {"password1": "grudge-pass-2026!", "password2": "grudge-pass-2026!"}
    page = reverse("admin:auth_user_password_change", args=[person.pk])
    assert client.post(page, new | {"usable_password": "true"}).status_code == 403
    change = reverse("admin:auth_user_change", args=[person.pk])
    assert client.post(change, {"username": person.username}).status_code == 403
    person.refresh_from_db()
    assert person.check_password(PASSWORD) and person.is_active
    shown = client.get(change)
    assert shown.status_code == 200  # still there to look at, without the password's hash
    assert person.username in shown.content.decode()
    assert person.password.split("$")[-1] not in shown.content.decode()
    tried = AuditEvent.objects.order_by("pk")[events:]
    assert [e.action for e in tried] == ["security.request_refused"] * 2


def test_users_and_groups_are_read_only_in_the_admin(msp_admin):
    request = RequestFactory().get("/admin/")
    request.user = msp_admin
    for model in (get_user_model(), Group):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)


def test_sign_in_logs_are_read_only_in_the_admin(msp_admin):
    """django-axes' logs are the evidence of who tried to sign in: nobody deletes them."""
    from axes.models import AccessFailureLog, AccessLog

    request = RequestFactory().get("/admin/")
    request.user = msp_admin
    for model in (AccessLog, AccessFailureLog):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
