import time

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db.backends.base.operations import BaseDatabaseOperations
from django.test import override_settings
from pytest_django.plugin import blocking_manager_key

from portal.audit.events import forget_known_heads
from portal.models import Role
from tests import caches, settle, sqlite_ids, template_db
from tests.factories import freeze_minute, make_person, make_tenant_world
from tests.provisioning.worker import WorkerProcess, WorkerStarts
from tests.sandbox.server import running_sandbox

# The files that cost most (seconds on two workers, from a whole run's `--durations`): they
# are handed out first, so that the last file a worker takes is a short one. xdist's own
# order (`--dist loadfile` sorts by the number of tests, most first; turned off in
# pyproject.toml) sent these, which hold few but long tests, last, where one of them could
# keep a worker busy minutes after the other had finished.
HEAVY_FILES = {
    "tests/provisioning/test_engine_faults.py": 190,
    "tests/provisioning/test_engine_model.py": 120,
    "tests/security/test_hostile_query_strings.py": 120,
    "tests/browser/test_accessibility.py": 120,  # the demo seeded once a module (suite5)
    "tests/provisioning/test_engine_levels.py": 86,
    "tests/provisioning/test_lifecycle_e2e.py": 61,
    "tests/api/test_api_schema_properties.py": 45,
    "tests/api/test_api_stateful.py": 60,
    "tests/provisioning/test_bulk_e2e.py": 31,
    "tests/provisioning/test_engine_transport.py": 27,
    "tests/browser/test_report_flow.py": 15,  # suite8: its poll moved on, its demo seeded once
    "tests/provisioning/test_admission.py": 20,
    "tests/provisioning/test_engine_okta.py": 19,
    "tests/provisioning/test_bulk_killed_worker.py": 35,
    "tests/provisioning/test_engine_no_answer.py": 25,
    "tests/provisioning/test_engine_disrupted.py": 12,
    "tests/reports/test_audit_scale.py": 17,
    "tests/provisioning/test_engine_mid_run.py": 90,
    # converge16's probes, SQLite at a load of 11 (calls only): a join, move, leave and
    # restore through writes answered 504 that landed (25 s); Redis away (10 s); a backend
    # terminated mid-transaction (PostgreSQL only, 16 s and 8 s there).
    "tests/provisioning/test_engine_failed_after.py": 33,
    "tests/provisioning/test_engine_redis_away.py": 10,
    "tests/provisioning/test_engine_db_away.py": 25,
    # Measured on PostgreSQL on 7 December 2026 at a load of 4 to 15 (median 9), where
    # test_engine_model took some 1.4 times its figure above, and divided by that: real
    # workers frozen and killed, a start each (680 s); a join, a leave and a restore killed
    # after each of their batches in three directory kinds (560 s); one person's disrupted
    # runs (67 s). test_engine_races since it plays its kill points in waves (branch suite2):
    # about half its time (277 to 344 s against 501 to 674 s, loads 7 to 14).
    # test_engine_stopped_workers since its starts after a kill or a freeze take a spare
    # (branch suite4): about four fifths (597 and 650 s against 770 and 802 s, loads 16 to 18),
    # listed at 360. Its killed-workers test is a file of its own since suite5, so that two
    # pytest workers can run the halves side by side: 292 s and 275 s (setups, calls and
    # teardowns) on PostgreSQL at a load of 10 to 16, listed in that proportion.
    "tests/provisioning/test_engine_killed_workers.py": 185,
    "tests/provisioning/test_engine_stopped_workers.py": 175,
    "tests/provisioning/test_engine_races.py": 200,
    "tests/provisioning/test_engine_disrupted_kinds.py": 50,
    # converge19: that machine with overlapping access and attributes, two examples (50 s
    # at a load of 21, divided by 1.4 as above).
    "tests/provisioning/test_engine_disrupted_overlaps.py": 35,
    # converge18, PostgreSQL at a load of 19 to 22: four channels at one person through
    # killed workers, two rounds (209 s); leaves crossing in threads, four cases (about 40 s
    # each, most of it the transactional flush).
    "tests/provisioning/test_channels_at_once.py": 120,
    "tests/provisioning/test_leaves_crossing.py": 60,
    # converge21, SQLite at a load of 8 to 12: an Okta joiner's disrupted runs, three
    # examples (9 s); a worker killed while the create is on its way (86 s with its set-up
    # and teardown).
    "tests/provisioning/test_okta_joins_disrupted.py": 15,
    "tests/provisioning/test_okta_create_killed_worker.py": 60,
    # converge22, SQLite at a load of 9 to 13: a leave's one-shots through disrupted runs,
    # three examples (62 s call, 28 s set-up, at 13: listed divided by 1.4 as above); a partly
    # failed leave then the periodic check, with real workers (50 s of the file's 65 s at 9).
    "tests/provisioning/test_leave_one_shots.py": 65,
    "tests/provisioning/test_leave_proof.py": 50,
    # converge26: one person's asks through an app's outage, three examples (8.9 s call on
    # SQLite at a load of 2.4; its timeout mark allows far more examples).
    "tests/provisioning/test_leave_app_outage.py": 10,
    # leftover1, SQLite at a load of 10 to 11: a partly failed join, its check and its retry
    # (17 s with the sandbox's start); a hard delete driven round by round (27 to 56 s).
    "tests/provisioning/test_join_proof.py": 12,
    "tests/provisioning/test_hard_delete_proof.py": 35,
    # suite7, PostgreSQL at a load of 11: two migrations of a probe's template, in processes
    # of their own (108 s; 65 s on SQLite).
    "tests/test_template_db.py": 75,
}
SECONDS_A_TEST = 0.5  # what an unlisted file costs a test, for the order only
# A package whose fixture is package-scoped is run as one block: the browser package's
# `browser` (Playwright's driver and chromium, about 3 s to start at a load of 4) started
# again each time a pytest worker came back to the package, a dozen times a run, when its
# files were spread among the others by their cost.
BLOCK_PACKAGES = ("tests/browser/",)


def pytest_collection_modifyitems(items):
    """Longest files first (the order `--dist loadfile` hands files out in), a block
    package's files together where the block's cost puts them."""
    counts: dict[str, int] = {}
    for item in items:
        counts[item.location[0]] = counts.get(item.location[0], 0) + 1

    def file_cost(path: str) -> float:
        return HEAVY_FILES.get(path, counts[path] * SECONDS_A_TEST)

    def block_of(path: str) -> str:
        return next((block for block in BLOCK_PACKAGES if path.startswith(block)), path)

    block_costs: dict[str, float] = {}
    for path in counts:
        block_costs[block_of(path)] = block_costs.get(block_of(path), 0.0) + file_cost(path)

    def order(item) -> tuple[float, float]:
        path = item.location[0]
        return (-block_costs[block_of(path)], -file_cost(path))

    items.sort(key=order)  # stable: a file's tests keep their order


@pytest.fixture(scope="session", autouse=True)
def _flushes_outlast_deadlocks():
    """A transactional test's flush deletes the rows (on PostgreSQL: a TRUNCATE cost seconds
    a test) but the content types' and permissions' (its `post_migrate` would write them
    again), and is done again when a late worker deadlocks it (tests/settle.py)."""
    from django.core.management.commands import flush as flush_command

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush_command, "sql_flush", settle.rows_deleted(flush_command.sql_flush))
        patch.setattr(
            flush_command,
            "emit_post_migrate_signal",
            settle.post_migrate_once_kept(flush_command.emit_post_migrate_signal),
        )
        flush = BaseDatabaseOperations.execute_sql_flush
        patch.setattr(
            BaseDatabaseOperations, "execute_sql_flush", settle.flush_outlasting_deadlocks(flush)
        )
        yield


@pytest.fixture(scope="session", autouse=True)
def _quick_password_hashing():
    """Argon2 costs about 0.2 s of CPU a hash, and nearly every test makes people with
    passwords: the suite hashes with MD5 instead. tests/test_password_hashing.py checks the
    production hashers themselves."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def _discovered_scim_models_built_once():
    """A SCIM client that discovers an app (scim2-client's `discover`, scim2-tester) builds a
    pydantic model of every schema the app publishes. On Python 3.11 pydantic reads each new
    model's attribute docstrings by walking the stack with `inspect.getmodule`, which goes
    through all of `sys.modules` for a frame it has not seen: 0.3 s of CPU a discovery with a
    few hundred modules loaded, seconds inside the suite (thousands; 58 s for
    tests/sandbox/test_scim_patch.py's 13 tests). The same published schema gives the same
    model, so it is built once a process (its `meta` left out of the key: the location names
    the app, and no model reads it); the discovery itself (the requests, the checks of the
    answers) still runs every time, and a schema that differs is built anew."""
    from scim2_models import provider

    build = provider._discovered_model
    built: dict[tuple[str, bool], type] = {}

    def built_once(schema, extended):
        is_extension = provider._schema_key(schema.id) in extended
        key = (schema.model_dump_json(exclude={"meta"}), is_extension)
        if key not in built:
            built[key] = build(schema, extended)
        return built[key]

    provider._discovered_model = built_once
    yield
    provider._discovered_model = build


@pytest.fixture(scope="session", autouse=True)
def _live_server_answers_without_nagle():
    """Django's development server (the `live_server` fixture's) writes an answer's status
    and headers, then its body, as separate small sends; with Nagle's algorithm on, the body
    waits for the client to acknowledge the headers, which a client acknowledges only after
    its delayed-ACK timer (40 ms on Linux). Every request to the live server took some 90 ms
    of waiting (tests/scim/test_scim_compliance.py: 265 requests, 25 s). socketserver's own
    switch sets TCP_NODELAY on each connection, as production servers (gunicorn) do."""
    from django.core.servers.basehttp import WSGIRequestHandler

    WSGIRequestHandler.disable_nagle_algorithm = True
    yield
    WSGIRequestHandler.disable_nagle_algorithm = False


@pytest.fixture
def models_built(monkeypatch) -> list[str]:
    """The names of the parametrized pydantic models built while the test runs."""
    from pydantic._internal import _generics

    built: list[str] = []
    create = _generics.create_generic_submodel

    def noting(model_name, *args, **kwargs):
        built.append(model_name)
        return create(model_name, *args, **kwargs)

    monkeypatch.setattr(_generics, "create_generic_submodel", noting)
    return built


@pytest.fixture(autouse=True)
def _fresh_rate_windows():
    """Each test counts from zero in the fixed-window limits (portal/ratelimit.py): the
    security events' budget of a minute is shared by everything a process does in it, so a
    crawl of refused requests just before would leave a test's own refusal unrecorded.
    Only this process's counters (its REDIS_KEY_PREFIX): the other pytest worker's stay."""
    caches.forget(cache, f"{settings.REDIS_KEY_PREFIX}:rate:*")
    # Admission's notes (engine/admission.py): an earlier test's tenant and job ids come
    # again after the flush, and its line would put a new joiner in it, its ended job's note
    # drop a new job's task.
    caches.forget(cache, f"{settings.REDIS_KEY_PREFIX}:admission:*")


@pytest.fixture
def one_minute():
    """The test's requests fall in one window of the fixed-window limits: the clock stands a
    second into the minute the test starts in (a loop of requests that crossed the minute's
    turn was counted afresh from there and got no 429: a failure now and then under load).
    For tests that only ask the test client: nothing that waits on the clock."""
    with freeze_minute(int(time.time() // 60)):
        yield


@pytest.fixture(autouse=True)
def _no_known_audit_heads():
    """Each test appends to the audit chains as a fresh process does (portal/audit/events.py
    remembers the heads its commits left): an earlier test's database was flushed, so its
    heads would only cost a missed guess, but a statement count would see it."""
    forget_known_heads()


@pytest.fixture(scope="session")
def sandbox_server(tmp_path_factory):
    """The emulated clouds, once per session, over HTTPS with a CA of its own."""
    tls = tmp_path_factory.mktemp("sandbox-tls")
    with running_sandbox(tls, "--seed", "demo") as server:  # the demo directories too
        yield server


@pytest.fixture
def alpha(db):
    """Tenant A, with a technician, an account manager and a client admin of its own."""
    return make_tenant_world("alpha", "Alpha Ltd")


@pytest.fixture
def bravo(db):
    """Tenant B, the other client: nothing of A may ever show to B's people."""
    return make_tenant_world("bravo", "Bravo GmbH")


@pytest.fixture
def msp_admin(db):
    return make_person("msp-admin", Role.MSP_ADMIN)


@pytest.fixture
def msp_template(db):
    from tenants.models import RoleTemplate

    return RoleTemplate.objects.create(tenant=None, name="MSP Standard", groups=["All Staff"])


@pytest.fixture
def on_sandbox(settings, sandbox_server):
    """This process trusts the test sandbox's CA for its URLs, as the worker does."""
    settings.SANDBOX_URL = sandbox_server.url
    settings.SANDBOX_CA_FILE = sandbox_server.ca
    return sandbox_server


STARTED_WORKERS: list[WorkerProcess] = []
TEST_DATABASE: list[bool] = []  # [True] while the test database exists: never touch another
# The transactional test flushed last in this process (empty: none yet).
LAST_FLUSHED: list[str] = []
# SQLite's id counts a rolled-back test reached, to be written back (tests/sqlite_ids.py).
ROLLED_BACK_COUNTS: dict[str, int] = {}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings, django_db_use_migrations):
    """pytest-django's, then each test database made a copy of one migrated template
    (tests/template_db.py), not migrated by every pytest worker."""
    if not django_db_use_migrations:
        yield
        return
    from django.db.backends.base.creation import BaseDatabaseCreation

    create = BaseDatabaseCreation.create_test_db
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            BaseDatabaseCreation, "create_test_db", template_db.made_from_template(create)
        )
        yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, noting that the test database is there for the hooks below."""
    TEST_DATABASE[:] = [True]
    yield
    TEST_DATABASE.clear()


@pytest.fixture(scope="session")
def live_server(django_db_setup, live_server):
    """pytest-django's, started after the test database, so stopped before it is dropped. A
    test asks for `live_server` (through `page`) before the database (through its
    `django_db` marker, later): on a pytest worker whose first file was a browser file, the
    server came first and so was stopped last, after the drop, which one of its request
    threads' connections then failed ("being accessed by other users"; the database was left
    behind). tests/test_live_server_order.py checks the order."""
    return live_server


def _commits(item: pytest.Item) -> bool:
    """A transactional test: it commits, the workers see its rows, its tables are flushed."""
    marker = item.get_closest_marker("django_db")
    if marker and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    return bool({"transactional_db", "live_server"} & set(getattr(item, "fixturenames", ())))


def _uses_db(item: pytest.Item) -> bool:
    return bool(
        item.get_closest_marker("django_db")
        or {"db", "transactional_db", "live_server"} & set(getattr(item, "fixturenames", ()))
    )


def _db_access(config: pytest.Config):
    return config.stash[blocking_manager_key].unblock()


def _module_data_open() -> bool:
    """Whether a module's shared data is open around its tests (an atomic block of its own,
    see tests/reports/test_demo_history.py): its audit events are that module's, uncommitted,
    not a leak."""
    from django.db import connection

    return connection.in_atomic_block


def _note_ids_counted() -> None:
    """SQLite's id counts inside the test's transaction, before it is rolled back."""
    for table, seq in sqlite_ids.counted().items():
        ROLLED_BACK_COUNTS[table] = max(seq, ROLLED_BACK_COUNTS.get(table, 0))


def _keep_ids_counting(item: pytest.Item) -> None:
    """The counts noted written back once no transaction is open (a module's shared data may
    still hold one after its test: then before the next test, or after the module)."""
    if ROLLED_BACK_COUNTS and TEST_DATABASE and not _module_data_open():
        with _db_access(item.config):
            sqlite_ids.keep_counting(ROLLED_BACK_COUNTS)
        ROLLED_BACK_COUNTS.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Before a database test, no audit event may be there yet: one is a write of an earlier
    test's job (or anything else) that outlived that test's flush."""
    _keep_ids_counting(item)
    if TEST_DATABASE and LAST_FLUSHED and _uses_db(item) and not _module_data_open():
        with _db_access(item.config):
            leaked = settle.leaked_events()
            if leaked:
                settle.forget_audit_trail()
        if leaked:
            where = f"after the flush of {LAST_FLUSHED[-1]}, before this test began"
            pytest.fail(settle.describe_leak(leaked, where), pytrace=False)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Before a transactional test's tables are flushed, end the background work it started:
    a job still writing while the tables are truncated would deadlock the flush, or leave a
    row (an audit event) in the next test's database. A job still running at the deadline
    fails the test, naming it; its workers are killed first and started again after.
    A test rolled back leaves its ids used up (tests/sqlite_ids.py)."""
    if not (TEST_DATABASE and _commits(item)):
        if TEST_DATABASE and _uses_db(item):
            _note_ids_counted()
        try:
            return (yield)  # the rollback
        finally:
            _keep_ids_counting(item)
    with _db_access(item.config):
        settled = settle.settle_jobs(STARTED_WORKERS)
        settle.purge_queue()
    try:
        result = yield  # the fixtures' teardown: the flush (after the last test, the session's)
    finally:
        if TEST_DATABASE:
            for worker in settled.killed:
                worker.start()
    leaked = []
    if TEST_DATABASE:
        with _db_access(item.config):
            leaked = settle.leaked_events()
            if leaked:
                settle.forget_audit_trail()
        LAST_FLUSHED[:] = [item.nodeid]
    problems = []
    if settled.stuck:
        problems.append(
            f"Jobs still running {settle.SETTLE_TIMEOUT_S:.0f} s after the test ended (the "
            f"session's workers were killed before the flush and started again after it): "
            + ", ".join(settled.stuck)
        )
    if leaked:
        problems.append(settle.describe_leak(leaked, "while this test's tables were flushed"))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    return result


@pytest.fixture(scope="session")
def worker_factory(django_db_setup, sandbox_server, tmp_path_factory):
    """Start real Celery workers on the test database; all are stopped at the end."""
    starts = WorkerStarts(sandbox_server, tmp_path_factory, STARTED_WORKERS)
    yield starts
    starts.stop_all()


@pytest.fixture(scope="session")
def worker(worker_factory):
    """The session's worker. Short leases, so a test that kills it sees its job resumed soon."""
    return worker_factory(JOB_LEASE_SECONDS="5")
