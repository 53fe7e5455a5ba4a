"""A role template form carries the template as its page read it (polish1). An edit saved by
someone else between the page load and the POST was overwritten by the form's stale value of
that field: the form only knew the row as its POST read it. Now a field its editor left as the
page showed it keeps the other's edit, and a field both changed is refused in words: what
changed, by whom, the editor's input kept, nothing saved."""

import html
import re

import pytest
from django.test import Client

from portal.audit.models import AuditEvent
from tenants.models import RoleTemplate
from tests.provisioning.test_role_template_mass_change_hold import _as_it_is, _role_url

pytestmark = pytest.mark.django_db


def _page_load(alpha) -> tuple[Client, dict]:
    """The technician's editor: the page loaded, its form as it came."""
    editor = Client()
    editor.force_login(alpha.technician)
    page = editor.get(_role_url("role_edit", alpha)).content.decode()
    form = _as_it_is(alpha)
    carried = re.search(r'name="as_read" value="([^"]*)"', page)
    if carried:
        form["as_read"] = html.unescape(carried[1])
    return editor, form


def _someone_else_saves(alpha, msp_admin, **fields) -> None:
    other = Client()
    other.force_login(msp_admin)
    response = other.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), **fields})
    assert response.status_code == 302


def test_an_edit_saved_after_the_page_load_is_kept_by_a_form_that_left_it(alpha, msp_admin):
    editor, form = _page_load(alpha)
    _someone_else_saves(alpha, msp_admin, description="Theirs")

    response = editor.post(_role_url("role_edit", alpha), {**form, "office": "Leeds"})

    assert response.status_code == 302
    template = RoleTemplate.objects.get(pk=alpha.template.pk)
    assert (template.description, template.office) == ("Theirs", "Leeds")


def test_a_field_both_changed_is_refused_in_words_and_the_input_kept(alpha, msp_admin):
    office = alpha.template.office
    editor, form = _page_load(alpha)
    _someone_else_saves(alpha, msp_admin, description="Theirs")

    response = editor.post(
        _role_url("role_edit", alpha), {**form, "description": "Mine", "office": "Leeds"}
    )

    assert response.status_code == 200
    text = html.unescape(response.content.decode())
    assert "Not saved" in text and "description" in text
    assert AuditEvent.objects.filter(actor_user_id=msp_admin.pk).last().actor_label in text
    assert "“Theirs”" in text  # what it is now
    assert 'value="Mine"' in text and 'value="Leeds"' in text  # the editor's input kept
    template = RoleTemplate.objects.get(pk=alpha.template.pk)
    assert (template.description, template.office) == ("Theirs", office)  # nothing half-changed

    # Saving again is the editor's deliberate choice over the other's edit.
    again = {**form, "description": "Mine", "office": "Leeds"}
    again["as_read"] = html.unescape(
        re.search(r'name="as_read" value="([^"]*)"', response.content.decode())[1]
    )
    assert editor.post(_role_url("role_edit", alpha), again).status_code == 302
    template.refresh_from_db()
    assert (template.description, template.office) == ("Mine", "Leeds")
