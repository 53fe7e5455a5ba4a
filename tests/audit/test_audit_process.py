"""An event no person made names the portal's process that made it, beside "the system"."""

import pytest

from portal.audit import process
from portal.audit.events import event_for, record
from portal.audit.process import acting_process


@pytest.mark.parametrize(
    "argv,process",
    [
        (["/venv/bin/celery", "-A", "portal", "worker", "--beat"], "worker"),
        (
            ["/venv/lib/python3.11/site-packages/celery/__main__.py", "-A", "portal", "worker"],
            "worker",
        ),
        (["/usr/local/bin/celery", "-A", "portal", "beat"], "scheduler"),
        (["manage.py", "seed_demo"], "seed_demo command"),
        (["/app/manage.py", "runserver", "127.0.0.1:8000"], "web server"),
        (["/usr/local/bin/gunicorn", "portal.wsgi:application"], "web server"),
        (["/venv/bin/pytest", "tests"], ""),
    ],
)
def test_the_process_is_named_as_an_msp_technician_would_know_it(argv, process):
    assert acting_process(argv) == process


@pytest.mark.django_db
def test_a_system_event_records_the_system_and_its_process(monkeypatch):
    monkeypatch.setattr("sys.argv", ["/venv/bin/celery", "-A", "portal", "worker"])
    event = record("access.expired", actor="system")
    assert (event.actor_display, event.actor_username) == ("the system (worker)", "system")
    monkeypatch.setattr("sys.argv", ["/venv/bin/pytest"])
    assert record("access.expired", actor="system").actor_display == "the system"


def test_a_workers_system_events_read_its_command_line_once(monkeypatch):
    monkeypatch.setattr("sys.argv", ["/venv/bin/celery", "-A", "portal", "worker", "-n", "w9"])
    read = []
    monkeypatch.setattr(process, "acting_process", lambda argv: read.append(argv) or "worker")
    events = [event_for("job.run", actor="system") for _ in range(3)]
    assert {e.actor_display for e in events} == {"the system (worker)"}
    assert len(read) <= 1
