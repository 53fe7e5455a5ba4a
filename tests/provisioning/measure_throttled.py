"""Measurement only (not collected by the suite): a 1 call/s connection (bucket of 10), as
bench/onboard.py's throttled tenant, given 8 joiners at once: after 46 s, how many finished
and how many task runs they took. Run it by naming the file."""

import time

import pytest

from provisioning import throttle
from provisioning.models import Job
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_e2e import onboard


@pytest.mark.django_db(transaction=True)
def test_measure(on_sandbox, worker):
    dirs = make_directories(on_sandbox, "slowm", rate_limit_per_s=1)
    connection = dirs.tenant.connections.get()
    connection.rate_burst = 10
    connection.save()
    throttle.reset(connection)
    jobs = [onboard(dirs, first=f"Person{n}", last="Slow") for n in range(8)]
    time.sleep(46)
    rows = Job.objects.filter(pk__in=[j.pk for j in jobs]).order_by("pk")
    finished = [j for j in rows if j.status == Job.Status.SUCCEEDED]
    print(
        "MEASURE finished",
        len(finished),
        "of",
        len(rows),
        "runs",
        sum(j.runs for j in rows),
        [(j.runs, j.status) for j in rows],
    )
