"""An inventory read and the engine's read of the same new account write its row at once.

The read asks which of a page's accounts have rows, then inserts the others; the engine's
read of an account it has just made (`service.record_account_read`) inserts the row when
there is none. At a demo's start the first read and the onboarding jobs run together: the
engine's row can arrive between the two, committed or still in its job's transaction. The
read must not fail on it (the task `refresh_inventory` raised IntegrityError), nor lose what
it read: one row, with what the read showed."""

from __future__ import annotations

import threading
import uuid

import pytest
from celery.app.task import Task
from celery.exceptions import Retry
from django.db import connection, connections, transaction
from django.utils import timezone

from provisioning import demo_accounts
from provisioning.connectors.base import AccessState, DirectoryUser
from provisioning.inventory import service
from provisioning.inventory.models import Account, Cursor
from provisioning.inventory.tasks import refresh_inventory
from provisioning.tasks import seed_demo_accounts
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dirs(on_sandbox):
    made = make_directories(on_sandbox, f"race{uuid.uuid4().hex[:10]}", kinds=("entra",))
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/entra/{made.entra_id}")


def new_account(dirs) -> tuple[dict, str]:
    """An account the engine has just made: in the directory, in no inventory row yet;
    in the Staff group, in Finance."""
    user = dirs.add_entra_user(f"ada@{dirs.tenant.primary_domain}", "Ada", "New")
    response = dirs.graph("PATCH", f"/users/{user['id']}", {"department": "Finance"})
    assert response.status_code < 300, response.text
    groups = {g["displayName"]: g["id"] for g in dirs.graph("GET", "/groups").json()["value"]}
    ref = {"@odata.id": f"{dirs.server.url}/v1.0/directoryObjects/{user['id']}"}
    response = dirs.graph("POST", f"/groups/{groups['Staff']}/members/$ref", ref)
    assert response.status_code < 300, response.text
    return user, groups["Staff"]


class EngineRead(threading.Thread):
    """The engine's read of the new account, on its own connection (a worker's job), as
    the executor reports it (`outcomes.account_read`): committed at once, or held in its
    transaction until the read's INSERT waits for it (PostgreSQL)."""

    def __init__(self, dirs, user: dict, staff: str, hold_for: int | None = None) -> None:
        super().__init__()
        self.connection = dirs.tenant.connections.get(kind="entra")
        self.user = DirectoryUser(
            user["id"], user["userPrincipalName"], True, {"first_name": "Ada"}
        )
        self.access = AccessState(groups=frozenset({staff}))
        self.hold_for = hold_for  # the backend of the read whose wait ends the transaction
        self.written = threading.Event()
        self.saw_the_read_wait = False
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            with transaction.atomic():
                service.record_account_read(self.connection, self.user, self.access)
                self.written.set()
                if self.hold_for is not None:
                    self.saw_the_read_wait = self._until_it_waits()
        except BaseException as error:  # reported to the main thread
            self.errors.append(error)
        finally:
            self.written.set()
            connections.close_all()

    def _until_it_waits(self) -> bool:
        for _ in range(3000):
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM pg_locks WHERE pid = %s AND NOT granted", [self.hold_for]
                )
                if cursor.fetchone() is not None:
                    return True
            threading.Event().wait(0.01)
        return False


def engine_reads_between_the_reads_look_up_and_its_insert(monkeypatch, engine: EngineRead):
    """The engine's row arrives after the read asked which of its page's rows exist, before
    it inserts the others: as the full read takes what else it knows of the new account."""
    real = service._Known.of

    def of(known, remote_id):
        if remote_id == engine.user.id and not engine.written.is_set():
            engine.start()
            assert engine.written.wait(timeout=60)
            if engine.hold_for is None:
                engine.join(timeout=60)
        return real(known, remote_id)

    monkeypatch.setattr(service._Known, "of", of)


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    "engine_commits",
    [
        "before the insert",
        pytest.param(
            "while the insert waits",
            marks=pytest.mark.skipif(
                connection.vendor != "postgresql",
                reason="an INSERT waits for another transaction's row on PostgreSQL; "
                "SQLite writes one at a time",
            ),
        ),
    ],
)
def test_a_read_and_the_engine_writing_the_same_new_account_end_with_one_row(
    dirs, monkeypatch, engine_commits
):
    user, staff = new_account(dirs)
    entra = dirs.tenant.connections.get(kind="entra")
    hold_for = backend_pid() if engine_commits == "while the insert waits" else None
    engine = EngineRead(dirs, user, staff, hold_for=hold_for)
    engine_reads_between_the_reads_look_up_and_its_insert(monkeypatch, engine)

    assert refresh_inventory(entra.pk) == Cursor.State.IDLE  # the Celery task, run here

    engine.join(timeout=60)
    assert not engine.is_alive() and engine.errors == []
    assert engine.written.is_set()
    if hold_for is not None:
        assert engine.saw_the_read_wait  # the interleaving happened as described
    cursor = Cursor.objects.get(connection=entra)
    assert (cursor.state, cursor.last_error, cursor.accounts_read) == ("idle", "", 1)
    rows = Account.objects.filter(connection=entra, remote_id=user["id"])
    assert rows.count() == 1
    row = rows.get()
    # What the read showed (the engine's read had no department nor last name)...
    assert (row.username, row.display_name) == (user["userPrincipalName"], "Ada New")
    assert (row.first_name, row.last_name, row.department) == ("Ada", "New", "Finance")
    assert row.group_ids == [staff] and row.enabled and not row.deleted
    # ...and what followed it: the cursor moved on, scope and matching ran on the row.
    assert cursor.users_cursor and cursor.full_read_at is not None
    assert row.in_scope and row.person is not None
    assert row.person.username == user["userPrincipalName"]


def test_the_demo_seedings_read_follows_a_read_already_running(dirs, monkeypatch):
    """`rundemo`: beat's tick may start a directory's first read while `seed_demo_accounts`
    is still making the history people's accounts and the drift. The seeding's own read
    must then not be dropped as "running elsewhere" (the next read would be 15 minutes
    later): it follows the running one and reads what the seeding made."""
    entra = dirs.tenant.connections.get(kind="entra")
    beat_started = timezone.now()
    Cursor.objects.create(connection=entra, state=Cursor.State.RUNNING, started_at=beat_started)
    made = {}
    monkeypatch.setattr(demo_accounts, "SLUGS", (dirs.tenant.slug,))
    monkeypatch.setattr(
        demo_accounts,
        "seed_accounts",
        lambda stopping: made.setdefault("user", new_account(dirs)[0]),
    )
    queued: list[tuple[Task, tuple]] = []  # the broker: tasks and their arguments

    def apply_async(task, args=None, kwargs=None, **options):
        queued.append((task, tuple(args or ())))

    def retry(task, *args, **kwargs):
        queued.append((task, tuple(task.request.args or ())))
        return Retry()

    monkeypatch.setattr(Task, "apply_async", apply_async)
    monkeypatch.setattr(Task, "retry", retry)

    def work() -> None:
        """The worker: every task queued, run once each."""
        for task, args in queued[:]:
            queued.remove((task, args))
            task.push_request(args=args)
            try:
                task.run(*args)
            except Retry:
                pass
            finally:
                task.pop_request()

    seed_demo_accounts()  # the accounts are made; the seeding asks for its read
    seeded = timezone.now()
    work()  # beat's read still runs
    Cursor.objects.filter(connection=entra).update(
        state=Cursor.State.IDLE, finished_at=timezone.now()
    )  # beat's read ends: it had read its users before the seeding's account was made
    work()

    cursor = Cursor.objects.get(connection=entra)
    assert cursor.started_at > seeded and cursor.state == Cursor.State.IDLE
    assert Account.objects.filter(connection=entra, remote_id=made["user"]["id"]).exists()
