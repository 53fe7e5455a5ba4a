"""Reasons and notes typed into the portal (an access request's and its extension's reason,
an approver's decision, a client admin's note on a request to act, a technician's decline,
a drift action's reason, a bulk adoption's note) are plain text, as the other free text the
portal stores is (a tenant's notes, an automatic reply: tenants.forms.no_markup). Pages
escape them; refusing < and > keeps markup out of what leaves the portal too (e-mails,
exports, the API's answers to other systems)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.access.forms import (
    AccessRequestForm,
    DecisionForm,
    DeclineForm,
    ExtendForm,
    OffboardActionForm,
    OnboardActionForm,
)
from provisioning.inventory.forms_adopt import BulkAdoptForm
from provisioning.inventory.forms_drift import ReasonForm
from tests.provisioning.test_views_access import file, requestable

pytestmark = pytest.mark.django_db

MARKUP = "Needs it <img src=x onerror=alert(1)>"
REFUSED = "Use plain text: < and > are not allowed here."


@pytest.fixture
def wiki(alpha):
    return requestable(alpha, "Alpha Wiki", kind="app")


def forms_of(alpha, wiki):
    tenant, person = alpha.tenant, alpha.identity
    start = (timezone.localdate() + timedelta(days=7)).isoformat()
    return [
        AccessRequestForm(
            {"identity": person.pk, "resource": wiki.pk, "reason": MARKUP}, tenant=tenant
        ),
        ExtendForm({"ends_at": "", "reason": MARKUP}, access_request=file(alpha, wiki, days=None)),
        DecisionForm({"decision": "deny", "reason": MARKUP}),
        DeclineForm({"reason": MARKUP}),
        ReasonForm({"reason": MARKUP}),
        BulkAdoptForm({"reason": MARKUP}, tenant=tenant),
        OnboardActionForm(
            {"first_name": "Ada", "last_name": "Lovelace", "start_date": start, "note": MARKUP},
            tenant=tenant,
        ),
        OffboardActionForm({"identity": person.pk, "note": MARKUP}, tenant=tenant),
    ]


def test_every_reason_and_note_refuses_markup(alpha, wiki):
    for form in forms_of(alpha, wiki):
        field = "note" if "note" in form.fields else "reason"
        assert not form.is_valid()
        assert form.errors.get(field) == [REFUSED], type(form).__name__
