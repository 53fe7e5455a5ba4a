"""CPU of the connectors' calls in a warm onboarding and offboarding, on the bridge's loop.

The SDKs run on the bridge's one event loop thread (provisioning/connectors/bridge.py); this
reads that thread's CPU time (`time.thread_time()` run on the loop) around each job, driven
in this process as a worker would run it (the engine tests' `drive`), so what it counts is the
connectors and their SDKs only: Django, SQL and the engine run in the main thread. Starts its
own sandbox (free port, no latency, no rate limit) and a SQLite database in a temporary
folder, removes both at the end; about 30 s, one process of its own plus the sandbox.

Each person: 1 licence, 5 groups, 1 app in Entra, the same 5 groups and the app in Okta
(`--kinds entra` for Entra alone); one onboarding and one offboarding (suspend, access
removed) warm the clients first, and the heap is then frozen (`gc.freeze()`) as a worker's
is after its first task runs. Per call kind (connector and method), the CPU of its
outermost calls is summed too (`--by-call`).

    .venv/bin/python bench/connector_cpu.py [--people 6] [--kinds entra,okta] [--by-call]

Last line: connector_cpu_ms_per_onboarding=<median ms> connector_cpu_ms_per_offboarding=<ms>
entra_ms_per_onboarding=<ms> okta_ms_per_onboarding=<ms> entra_ms_per_offboarding=<ms>
okta_ms_per_offboarding=<ms> people=<n> loadavg_start=<1m>,<5m>,<15m> loadavg=<1m>,<5m>,<15m>
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import gc
import inspect
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402

OKTA_TOKEN = "bench-okta-token"  # noqa: S105 - a throwaway org in a throwaway sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--kinds", default="entra,okta")
    parser.add_argument("--by-call", action="store_true")
    args = parser.parse_args()
    kinds = tuple(args.kinds.split(","))
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="connector-cpu-") as tmp:
        sandbox = _harness.start_sandbox(Path(tmp) / "tls")
        try:
            os.environ.update(
                {
                    "DJANGO_SETTINGS_MODULE": "portal.settings",
                    "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                    "SANDBOX_URL": sandbox.url,
                    "SANDBOX_CA_FILE": str(sandbox.ca),
                }
            )
            os.environ.pop("REDIS_URL", None)  # buckets and caches in this process's reach
            result = measure(sandbox, kinds, args.people, args.by_call)
        finally:
            _harness.stop_group(sandbox.process)
    print(
        " ".join(f"{k}={v}" for k, v in result.items())
        + f" loadavg_start={_harness.loadavg_text(load_start)}"
        + f" loadavg={_harness.loadavg_text()}"
    )


def measure(sandbox, kinds: tuple[str, ...], people: int, by_call: bool) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from provisioning import services
    from provisioning.connectors import bridge
    from provisioning.engine import executor
    from provisioning.engine.tasks import run_job
    from provisioning.lifecycle import services as lifecycle
    from provisioning.models import Identity, Job

    run_job.delay = lambda job_id: None  # this process runs the jobs (drive, below)
    tenant, template = directories(sandbox, kinds)
    spent = per_call_kind()

    def onboard(name: str) -> Job:
        request = services.OnboardingRequest(
            first_name="Bench", last_name=name, role_templates=[template]
        )
        username = f"bench.{name}@{tenant.primary_domain}".lower()
        return services.request_onboarding(tenant, request, username=username, actor="system")

    def offboard(job: Job) -> Job:
        identity = Identity.objects.get(pk=job.identity_id)
        options = lifecycle.OffboardingOptions(delete_after_days=None)
        return lifecycle.request_offboarding(identity, options, actor="system")

    def drive(job: Job) -> Job:
        for _ in range(400):
            outcome = executor.execute(job.pk)
            job.refresh_from_db()
            if job.is_done:
                if job.status != Job.Status.SUCCEEDED:
                    raise RuntimeError(f"job {job.pk} {job.status}: {job.error}")
                return job
            time.sleep(min(outcome.retry_in or 0.05, 0.2))
        raise RuntimeError(f"job {job.pk} did not end")

    async def loop_cpu() -> float:
        return time.thread_time()

    def loop_ms(job: Job) -> tuple[float, Counter]:
        spent.clear()
        before = bridge.run(loop_cpu())
        drive(job)
        return (bridge.run(loop_cpu()) - before) * 1000, Counter(spent)

    drive(offboard(drive(onboard("warm"))))
    # As a worker does after a task run that imported modules (portal/celery.py,
    # freeze_what_was_imported): without it a full collection of the SDKs' ~450,000 objects
    # (0.2 to 0.37 s of CPU) lands in one measured job or another, on whichever thread
    # allocates at the time.
    gc.freeze()
    joins, leaves = [], []
    for n in range(people):
        join = onboard(f"p{n}")
        joins.append(loop_ms(join))
        leaves.append(loop_ms(offboard(join)))
    bridge._close_all()
    if by_call:
        for label, runs in (("onboarding", joins), ("offboarding", leaves)):
            total = sum((calls for _, calls in runs), Counter())
            shares = ", ".join(f"{k} {v / people:.2f}" for k, v in total.most_common())
            print(f"{label}, ms per person by call: {shares}")
    result = {
        "connector_cpu_ms_per_onboarding": _median([ms for ms, _ in joins]),
        "connector_cpu_ms_per_offboarding": _median([ms for ms, _ in leaves]),
    }
    for label, runs in (("onboarding", joins), ("offboarding", leaves)):
        for kind in kinds:
            ms = [sum(v for k, v in calls.items() if k.startswith(kind)) for _, calls in runs]
            result[f"{kind}_ms_per_{label}"] = _median(ms)
    return result | {"people": people}


def per_call_kind() -> Counter:
    """CPU ms of each connector method's outermost calls (one running inside another, as
    read_ahead runs read_state's, counts once), keyed "kind.method"."""
    from provisioning.connectors.entra import EntraConnector
    from provisioning.connectors.okta import OktaConnector

    spent: Counter = Counter()
    inside = contextvars.ContextVar("inside", default=False)

    def timed(kind: str, name: str, method):
        @functools.wraps(method)
        async def call(self, *args, **kwargs):
            if inside.get():
                return await method(self, *args, **kwargs)
            token, started = inside.set(True), time.thread_time()
            try:
                return await method(self, *args, **kwargs)
            finally:
                spent[f"{kind}.{name}"] += (time.thread_time() - started) * 1000
                inside.reset(token)

        return call

    for cls in (EntraConnector, OktaConnector):
        for name, method in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(method):
                setattr(cls, name, timed(cls.kind, name, method))
    return spent


def directories(sandbox, kinds: tuple[str, ...]):
    """A tenant connected to a fresh Entra directory and Okta org, and its role template."""
    from tenants.models import DirectoryConnection, RoleTemplate, Tenant

    slug = f"cpu{uuid.uuid4().hex[:8]}"
    tenant = Tenant.objects.create(
        name=slug, slug=slug, primary_domain=f"{slug}.example", default_usage_location="GB"
    )
    if "entra" in kinds:
        tenant_id, client_id = sandbox.create_entra(tenant.primary_domain)
        entra = DirectoryConnection(
            tenant=tenant,
            kind="entra",
            directory_id=tenant_id,
            client_id=client_id,
            login_base_url=sandbox.url,
            graph_base_url=sandbox.url,
            rate_limit_per_s=1000,
            rate_burst=1000,
        )
        entra.set_secret(_harness.SECRET)
        entra.save()
    if "okta" in kinds:
        org_id = f"t-{slug}"
        body = {
            "id": org_id,
            "name": slug,
            "api_token": OKTA_TOKEN,
            "groups": [{"name": name} for name in _harness.GROUPS],
            "apps": [{"name": _harness.APP.lower(), "label": _harness.APP}],
        }
        with sandbox.control() as control:
            control.post("/_sandbox/okta/orgs", json=body).raise_for_status()
        okta = DirectoryConnection(
            tenant=tenant,
            kind="okta",
            org_url=f"{sandbox.url}/okta/{org_id}",
            rate_limit_per_s=1000,
            rate_burst=1000,
        )
        okta.set_secret(OKTA_TOKEN)
        okta.save()
    template = RoleTemplate.objects.create(
        tenant=tenant,
        name="Sales",
        groups=_harness.GROUPS,
        licenses=[_harness.SKU] if "entra" in kinds else [],
        apps=[_harness.APP],
        department="Sales",
        job_title="Account Executive",
    )
    return tenant, template


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


if __name__ == "__main__":
    main()
