"""Loaded as a plugin (`-p tests.pytest_env`) before Django reads its settings.

The tests' Celery messages go to a queue and a broker folder of their own, so that a demo
running on the same machine never picks up a test's job, nor a test a demo's.
"""

import os
import tempfile

os.environ.setdefault("CELERY_QUEUE", f"tests-{os.getpid()}")
os.environ.setdefault("CELERY_BROKER_DIR", tempfile.mkdtemp(prefix="portal-test-broker-"))
