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
