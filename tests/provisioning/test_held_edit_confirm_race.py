"""A held role-template edit confirmed while another edit of the same template is being saved,
on PostgreSQL with two connections (attack21). The confirmation compared the fields it sets
with what the template held, then wrote the whole row from its unlocked read: an edit that
committed between the two was undone unseen (its description back to the old one, no
`EditedMeanwhile`). Now the confirmation locks the row for its compare-and-set, and an edit
writes only what its editor changed onto the row as it is once it holds the lock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from provisioning.lifecycle import services as lifecycle
from provisioning.models import Batch
from tests.factories import make_joiner
from tests.provisioning.test_role_template_mass_change_hold import _as_it_is, _role_url

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="two connections racing for a row exist on PostgreSQL; SQLite serialises writers",
    ),
    pytest.mark.django_db(transaction=True),
]


def _backend_waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def _until_done_or_waiting(thread: threading.Thread, pid: list[int]) -> None:
    """Until the edit has committed, or waits for the confirmation's row lock."""
    deadline = time.monotonic() + 120  # a hang fails rather than blocking the suite
    while thread.is_alive() and not (pid and _backend_waits_for_a_lock(pid[0])):
        assert time.monotonic() < deadline, "the edit neither ended nor waited for a lock"
        thread.join(0.01)


def test_an_edit_saved_while_a_held_edit_is_confirmed_is_kept(
    client, alpha, msp_admin, monkeypatch
):
    make_joiner(alpha, "Mo")
    make_joiner(alpha, "Lu")  # three holders; the limit is one
    client.force_login(alpha.technician)
    client.post(_role_url("role_edit", alpha), {**_as_it_is(alpha), "groups": ""})
    [batch] = Batch.objects.filter(tenant=alpha.tenant, status=Batch.Status.HELD)
    edit_form = {**_as_it_is(alpha), "description": "Later"}

    read, go, errors, pid = threading.Event(), threading.Event(), [], []
    real_holders = lifecycle.holders

    def holders_once_read(template):  # the confirmation has read the template
        if threading.current_thread().name == "confirm" and not read.is_set():
            read.set()
            go.wait()
        return real_holders(template)

    monkeypatch.setattr(lifecycle, "holders", holders_once_read)

    def confirm() -> None:
        try:
            lifecycle.confirm_batch(Batch.objects.get(pk=batch.pk), actor=msp_admin)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connections.close_all()

    def edit() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid.append(cursor.fetchone()[0])
            editor = Client()
            editor.force_login(alpha.technician)
            response = editor.post(_role_url("role_edit", alpha), edit_form)
            assert response.status_code == 302, response.status_code
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    confirming = threading.Thread(target=confirm, name="confirm")
    confirming.start()
    read.wait()
    editing = threading.Thread(target=edit, name="edit")
    editing.start()
    _until_done_or_waiting(editing, pid)
    go.set()
    confirming.join()
    editing.join()

    assert errors == []
    alpha.template.refresh_from_db()
    batch.refresh_from_db()
    assert batch.status == Batch.Status.STARTED
    assert (alpha.template.groups, alpha.template.description) == ([], "Later")
