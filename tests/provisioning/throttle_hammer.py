"""A process of its own that takes tokens as fast as it can, for tests/provisioning/test_throttle.

Usage: python -m tests.provisioning.throttle_hammer <connection pk> <rate/s> <burst> <seconds>
Prints "ready" once Django is set up, starts on a line "go" on stdin, and prints how many
tokens it was granted. The backend follows DATABASE_URL and REDIS_URL, as a worker's does.
"""

from __future__ import annotations

import os
import sys
import time


def main(pk: int, rate: float, burst: int, seconds: float) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    from provisioning import throttle
    from tenants.models import DirectoryConnection

    connection = DirectoryConnection(pk=pk, rate_limit_per_s=rate, rate_burst=burst)
    print("ready", flush=True)
    sys.stdin.readline()
    granted = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if throttle.acquire(connection) == 0.0:
            granted += 1
    return granted


if __name__ == "__main__":
    pk, rate, burst, seconds = sys.argv[1:5]
    print(main(int(pk), float(rate), int(burst), float(seconds)), flush=True)
