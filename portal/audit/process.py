"""Which of the portal's processes acts when no person does, said beside "the system" in the
audit trail: the worker (jobs, and the periodic tasks beat hands it), the scheduler (beat on
its own), a management command, or the web server."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import PurePath

SYSTEM = "the system"


def acting_process(argv: list[str] | None = None) -> str:
    """The process by the command line that started it; "" when it is none of the portal's."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return ""
    program = PurePath(argv[0])
    if "celery" in (program.name, program.parent.name):
        return _celery_role(argv[1:])
    if program.name == "manage.py" and len(argv) > 1:
        return "web server" if argv[1] == "runserver" else f"{argv[1]} command"
    if program.name == "gunicorn":
        return "web server"
    return ""


def _celery_role(arguments: list[str]) -> str:
    if "worker" in arguments:
        return "worker"
    return "scheduler" if "beat" in arguments else ""


def system_display(argv: list[str] | None = None) -> str:
    """How an event the system made names its actor: "the system (worker)"."""
    return _display_of(tuple(sys.argv if argv is None else argv))


@lru_cache(maxsize=8)
def _display_of(argv: tuple[str, ...]) -> str:
    # Once per command line, not for every event a worker's run appends (ten a join).
    process = acting_process(list(argv))
    return f"{SYSTEM} ({process})" if process else SYSTEM
