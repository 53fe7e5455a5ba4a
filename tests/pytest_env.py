"""Loaded as a plugin (`-p tests.pytest_env`) before Django reads its settings.

The tests' Celery messages go to a queue and a broker folder of their own, so that a demo
running on the same machine never picks up a test's job, nor a test a demo's; their Redis
keys carry a prefix of their own for the same reason.
"""

import os
import tempfile
import uuid

os.environ.setdefault("CELERY_QUEUE", f"tests-{os.getpid()}")
# Database ids restart in every test database; Redis keys of an earlier run must not match.
os.environ.setdefault("REDIS_KEY_PREFIX", f"tests-{os.getpid()}-{uuid.uuid4().hex[:8]}")
os.environ.setdefault("CELERY_BROKER_DIR", tempfile.mkdtemp(prefix="portal-test-broker-"))
os.environ.setdefault("SNAPSHOT_CACHE_DIR", tempfile.mkdtemp(prefix="portal-test-snapshots-"))
# The test databases are thrown away: a commit need not wait for the disk (settings.py).
os.environ.setdefault("DURABLE_COMMITS", "false")
# pytest-django holds most tests inside one transaction, which may sit idle past a minute while
# the test waits on a slow sandbox or a browser on a loaded machine: ten minutes, not one.
os.environ.setdefault("DATABASE_IDLE_IN_TRANSACTION_S", "600")

# Under pytest-xdist each worker process inherits the controller's values: give each its own
# queue, broker folder, key prefix and cache, as each has its own test database and sandbox.
if worker := os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["CELERY_QUEUE"] = f"{os.environ['CELERY_QUEUE']}-{worker}"
    os.environ["REDIS_KEY_PREFIX"] = f"{os.environ['REDIS_KEY_PREFIX']}-{worker}"
    os.environ["CELERY_BROKER_DIR"] = tempfile.mkdtemp(prefix=f"portal-test-broker-{worker}-")
    os.environ["SNAPSHOT_CACHE_DIR"] = tempfile.mkdtemp(prefix=f"portal-test-snap-{worker}-")
