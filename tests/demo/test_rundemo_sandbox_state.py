"""Each database has a sandbox state of its own. The sandbox kept one state file for every
database: a newcomer who deleted the database (or ran the demo on a new DATABASE_URL) got a
demo whose history people had no accounts, their usernames taken in the directories by the
earlier database's people."""

from datetime import timedelta

import pytest
from django.db.migrations.recorder import MigrationRecorder

from portal.management.commands import rundemo

pytestmark = pytest.mark.django_db
EARLIER = '{"version": 1, "entra": []}'  # what a demo on another database left


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    (tmp_path / "sandbox").mkdir()
    return tmp_path


def test_a_new_database_gets_a_sandbox_state_of_its_own(var_dir):
    shared = var_dir / "sandbox" / "state.json"
    shared.write_text(EARLIER)
    mark = rundemo.database_mark()
    assert mark
    state = rundemo.sandbox_state(mark, kept=False)
    assert state.parent == shared.parent and not state.exists()  # the sandbox seeds it anew
    assert shared.read_text() == EARLIER  # left to the database that made it


def test_a_kept_database_keeps_the_state_it_was_using(var_dir):
    shared = var_dir / "sandbox" / "state.json"
    shared.write_text(EARLIER)
    state = rundemo.sandbox_state(rundemo.database_mark(), kept=True)
    assert state.read_text() == EARLIER and not shared.exists()
    assert rundemo.sandbox_state(rundemo.database_mark(), kept=True) == state


def test_another_database_never_touches_the_state_of_the_first(var_dir):
    first = rundemo.sandbox_state(rundemo.database_mark(), kept=False)
    first.write_text(EARLIER)
    # Another database: its first migration was applied at another time.
    migrations = MigrationRecorder.Migration.objects
    oldest = migrations.order_by("applied", "pk").first()
    migrations.update(applied=oldest.applied + timedelta(days=1))
    second = rundemo.sandbox_state(rundemo.database_mark(), kept=False)
    assert second != first and not second.exists()
    assert first.read_text() == EARLIER
