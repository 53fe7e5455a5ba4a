"""`python -m celery <args>`, its imports done before it is told to go (a spare worker).

It imports what a worker imports as it starts (Django, the tasks, the connectors its
WARM_CONNECTOR_KINDS names: some 5 s of CPU, 10 to 15 s of wall on the two-core machine),
then waits for a line on its standard input; only then does Celery start: the pool, the
broker, `worker_init` and `worker_ready` as in any start. An end of input (the test process
gone) ends it. See `WorkerProcess.prepare` (tests/provisioning/worker.py).
"""

import os
import sys

WAITING = "imports done; waiting to be told to start"


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from celery.__main__ import main as celery_main

    from portal.celery import app
    from provisioning.connectors import factory

    app.loader.import_default_modules()
    factory.import_every_kind()
    print(WAITING, flush=True)
    if not sys.stdin.readline():
        return 0
    sys.argv = ["celery", *sys.argv[1:]]
    celery_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
