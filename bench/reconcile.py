"""Taking over a directory: a full inventory of 50,000 users against the rate ceiling, then
100 changes made behind the portal's back and the one incremental cycle that finds them.

Starts what it needs and stops it at the end, also on error: its own sandbox (free port, CA
in a temporary folder), a fresh PostgreSQL database (`msp_portal_bench_reconcile_<pid>`,
created, migrated, dropped), the token buckets in Redis under a prefix of this run. The reads run
in this process, as a worker runs them (`service.refresh`). Every directory call answers
after 30 ms, and the directory allows `--rate` calls a second (burst `--burst`): the
connection is paced to match.

1. `generate` makes 50,000 users with groups, memberships, licences, sign-ins and app
   assignments in the directory (the sandbox's control route).
2. Full inventory: its time, the directory calls it made, and the share of the ceiling it
   used: calls / (rate x time), the read alone (start to the last call); then the cycle
   that follows every read (scope, matching, drift) timed apart.
3. Some in-scope people are adopted (`adoption.adopt` with no template: everything they hold
   becomes an exception, nothing is sent), so that changes to them are drift.
4. 100 changes through Graph, as an admin would make them: 40 attribute changes, 15
   disabled, 15 group additions, 15 removals, 15 licences removed; 10 of each but the
   attributes hit adopted people (the drift injected: 40 items).
5. One incremental cycle: its directory calls, its time, and the drift items it found
   against those injected (by person, kind and group or licence).

CPU: this process (the reader), its PostgreSQL backend and the sandbox, per 1,000 accounts
for the full read and per change for the incremental cycle; the machine's busy cores and
load average (`_harness.CpuMeter`).

    .venv/bin/python bench/reconcile.py [--users 50000] [--rate 10] [--burst 20] [--keep-db]

Last line: accounts=<n> full_share=<0..1> incremental_calls=<n> drift_found=<n>
drift_injected=<n> read_cpu_ms_per_1k_accounts=<ms> cycle_cpu_ms_per_1k_accounts=<ms>
incremental_cpu_ms_per_change=<ms> loadavg_start=<1m>,<5m>,<15m> loadavg=<1m>,<5m>,<15m>
busy_cores=<n>
(CPU: reader + its PostgreSQL backend, the sandbox left out; load over the whole run)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402

DB_PREFIX = "msp_portal_bench_reconcile"
REDIS = "redis://127.0.0.1:6379/5"
LATENCY_MS = 30
PER_KIND = 15  # disables, group additions, group removals, licence removals
MANAGED_PER_KIND = 10  # of those, on adopted people
ATTRIBUTE_CHANGES = 100 - 4 * PER_KIND


def say(text: str) -> None:
    print(text, flush=True)


def directory_calls(stats: dict) -> int:
    """Graph calls served (token requests and 429s left out)."""
    return (
        sum(n for route, n in stats["calls"].items() if "/oauth2/" not in route)
        - stats["throttled"]
    )


def cpu_meter(sandbox_pid: int) -> _harness.CpuMeter:
    """CPU of this process (the reader), its PostgreSQL backend and the sandbox."""
    return _harness.CpuMeter(
        reader=_harness.self_cpu_seconds,
        postgres=_harness.backend_cpu(),
        sandbox=lambda: _harness.group_cpu_seconds(sandbox_pid),
    )


def portal_ms_per(span: _harness.Span, units: float) -> float:
    """The portal's CPU per unit: the reader and its backend (the directory's left out)."""
    return span.ms_per(units, "reader") + span.ms_per(units, "postgres")


# --- the portal side ---------------------------------------------------------------------


def make_tenant(sandbox: _harness.Sandbox, rate: float, burst: int):
    from provisioning import throttle
    from tenants.models import DirectoryConnection, Tenant

    domain = "takeover.example"
    directory_id, client_id = sandbox.create_entra(domain, seats=10)
    tenant = Tenant.objects.create(
        name="Takeover", slug="takeover", primary_domain=domain, default_usage_location="GB"
    )
    connection = DirectoryConnection(
        tenant=tenant,
        kind="entra",
        directory_id=directory_id,
        client_id=client_id,
        login_base_url=sandbox.url,
        graph_base_url=sandbox.url,
        rate_limit_per_s=rate,
        rate_burst=burst,
    )
    connection.set_secret(_harness.SECRET)
    connection.save()
    throttle.reset(connection)
    return tenant, connection, directory_id


def warm_up(connection) -> None:
    """As a worker that has run before: the SDK's modules loaded, a token in hand."""
    from provisioning.connectors import bridge
    from provisioning.connectors.factory import connector_for

    bridge.run(connector_for(connection).probe())


def read(connection) -> object:
    from provisioning.inventory import service
    from provisioning.inventory.models import Cursor

    cursor = service.refresh(connection)
    assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor and cursor.last_error
    return cursor


class Graph:
    """Graph as an admin calls it, behind the portal's back (raw HTTP, its own token)."""

    def __init__(self, sandbox: _harness.Sandbox, directory_id: str, connection) -> None:
        import httpx

        self.client = httpx.Client(base_url=f"{sandbox.url}/v1.0", verify=str(sandbox.ca))
        token = (
            httpx.post(
                f"{sandbox.url}/{directory_id}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": connection.client_id,
                    "client_secret": _harness.SECRET,
                    "scope": "https://graph.microsoft.com/.default",
                },
                verify=str(sandbox.ca),
            )
            .raise_for_status()
            .json()["access_token"]
        )
        self.client.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None) -> None:
        """One change; a 429 (the same ceiling the portal's reads meet) is waited out."""
        response = self.client.request(method, path, json=body)
        while response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After") or 1))
            response = self.client.request(method, path, json=body)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")

    def close(self) -> None:
        self.client.close()


@dataclass
class Change:
    account_id: int  # the inventory row
    remote_id: str
    kind: str  # attribute | disable | group_add | group_remove | licence_remove
    ref: str = ""  # the group or SKU
    managed: bool = False

    def drift_key(self) -> tuple | None:
        """(account row, drift kind, access kind, ref) the drift report should show."""
        return {
            "disable": (self.account_id, "state", "", "sign-in"),
            "group_add": (self.account_id, "extra", "groups", self.ref),
            "group_remove": (self.account_id, "missing", "groups", self.ref),
            "licence_remove": (self.account_id, "missing", "licenses", self.ref),
        }.get(self.kind)


def candidates(connection, rng: random.Random) -> list:
    """In-scope, enabled, licensed accounts with a group, in a random order."""
    from provisioning.inventory.models import Account

    rows = list(
        Account.objects.filter(connection=connection, deleted=False, enabled=True, in_scope=True)
        .exclude(licence_ids=[])
        .exclude(group_ids=[])
        .order_by("remote_id")
        .only("pk", "remote_id", "group_ids", "licence_ids", "person_id")[:5000]
    )
    rng.shuffle(rows)
    return rows


def adopt(rows: list, wanted: int) -> list:
    """Adopt people until `wanted` are managed (no template: what they hold is recorded as
    exceptions, nothing is sent); the rows adopted."""
    from provisioning.inventory import adoption
    from provisioning.inventory.models import Person

    adopted = []
    for row in rows:
        if len(adopted) == wanted:
            break
        person = Person.objects.filter(pk=row.person_id).first()
        if person is None or person.identity_id is not None or person.accounts_count != 1:
            continue
        try:
            adoption.adopt(person, [], "system")
        except adoption.AdoptionRefused:
            continue
        adopted.append(row)
    return adopted


def plan_changes(connection, managed: list, others: list, groups: list[str]) -> list[Change]:
    """PER_KIND of each change of access or state (MANAGED_PER_KIND on adopted people), and
    attribute changes on others; one change per account."""
    changes: list[Change] = []
    kinds = ("disable", "group_add", "group_remove", "licence_remove")
    pools = {True: list(managed), False: list(others)}
    for kind in kinds:
        for index in range(PER_KIND):
            is_managed = index < MANAGED_PER_KIND
            row = pools[is_managed].pop()
            ref = ""
            if kind == "group_add":
                ref = next(g for g in groups if g not in row.group_ids)
            elif kind == "group_remove":
                ref = row.group_ids[0]
            elif kind == "licence_remove":
                ref = row.licence_ids[0]
            changes.append(Change(row.pk, row.remote_id, kind, ref, is_managed))
    for _ in range(ATTRIBUTE_CHANGES):
        row = pools[False].pop()
        changes.append(Change(row.pk, row.remote_id, "attribute"))
    return changes


def make_change(graph: Graph, base_url: str, change: Change) -> None:
    user = f"/users/{change.remote_id}"
    if change.kind == "attribute":
        graph.call("PATCH", user, {"jobTitle": "Changed by hand", "department": "Operations"})
    elif change.kind == "disable":
        graph.call("PATCH", user, {"accountEnabled": False})
    elif change.kind == "group_add":
        ref = {"@odata.id": f"{base_url}/v1.0/directoryObjects/{change.remote_id}"}
        graph.call("POST", f"/groups/{change.ref}/members/$ref", ref)
    elif change.kind == "group_remove":
        graph.call("DELETE", f"/groups/{change.ref}/members/{change.remote_id}/$ref")
    elif change.kind == "licence_remove":
        body = {"addLicenses": [], "removeLicenses": [change.ref]}
        graph.call("POST", f"{user}/assignLicense", body)


def open_drift(tenant) -> set[tuple]:
    from provisioning.inventory.models import Drift

    return set(
        Drift.objects.filter(tenant=tenant, status__in=Drift.OPEN_STATES).values_list(
            "account_id", "kind", "access_kind", "ref_id"
        )
    )


# --- the run -----------------------------------------------------------------------------


def run(args, sandbox: _harness.Sandbox, figures: dict) -> None:
    from django.conf import settings

    from provisioning.inventory import cycle, drift
    from provisioning.inventory.models import Account

    tenant, connection, directory_id = make_tenant(sandbox, args.rate, args.burst)
    started = time.monotonic()
    with sandbox.control() as control:
        made = control.post(
            f"/_sandbox/entra/{directory_id}/generate",
            json={"users": args.users, "groups": args.groups, "seed": args.seed},
            timeout=300,
        )
        made.raise_for_status()
    made = made.json()
    say(
        f"== 1. generated {made['users']:,} users, {made['memberships']:,} memberships, "
        f"{made.get('app_role_assignments', 0):,} app assignments in "
        f"{time.monotonic() - started:.1f} s"
    )
    sandbox.behave(directory_id, latency_ms=LATENCY_MS, rate_per_s=args.rate, burst=args.burst)
    meter = cpu_meter(sandbox.process.pid)

    # 2. The full inventory ---------------------------------------------------------------
    cycle_spans: list[_harness.Span] = []  # the last refresh's scope + matching + drift
    real_after_read = cycle.after_read

    def timed_after_read(conn) -> None:
        begun = meter.sample()
        real_after_read(conn)
        cycle_spans[:] = [meter.span(begun, meter.sample())]

    cycle.after_read = timed_after_read
    warm_up(connection)
    sandbox.reset_stats(directory_id)
    before = meter.sample()
    cursor = profiled(args.profile, lambda: read(connection))
    spent = meter.span(before, meter.sample())
    (cycle_span,) = cycle_spans
    stats = sandbox.stats(directory_id)
    calls = directory_calls(stats)
    read_s = (cursor.finished_at - cursor.started_at).total_seconds()
    share = calls / (args.rate * read_s)
    share_no_burst = (calls - args.burst) / (args.rate * read_s)
    accounts = Account.objects.filter(connection=connection, deleted=False).count()
    figures.update(accounts=accounts, full_share=share)
    say(
        f"== 2. full inventory: {accounts:,} accounts, {cursor.groups_read:,} group "
        f"entries, {calls} directory calls ({cursor.pages_read} counted by the read, "
        f"{stats['throttled']} answered 429) in {read_s:.1f} s at a ceiling of {args.rate:g} "
        f"calls/s (burst {args.burst}): share {share:.3f} ({share_no_burst:.3f} without the "
        "burst; target >= 0.9)"
    )
    say(f"  routes: {dict(sorted(stats['calls'].items()))}")
    say(
        f"  then scope, matching and drift of {accounts:,} accounts: "
        f"{cycle_span.wall:.1f} s; the whole refresh {spent.wall:.1f} s"
    )
    read_span = spent.minus(cycle_span)
    say("  " + read_span.line(accounts / 1000, "1,000 accounts, the read"))
    say("  " + cycle_span.line(accounts / 1000, "1,000 accounts, scope + matching + drift"))
    figures.update(
        read_cpu_ms_per_1k_accounts=portal_ms_per(read_span, accounts / 1000),
        cycle_cpu_ms_per_1k_accounts=portal_ms_per(cycle_span, accounts / 1000),
    )
    say(f"  sign-ins: {cursor.sign_ins_note or 'read'}")

    # 3. Some people adopted ----------------------------------------------------------------
    rng = random.Random(args.seed)
    rows = candidates(connection, rng)
    begun = time.monotonic()
    managed = adopt(rows, 4 * MANAGED_PER_KIND)
    adopted_ids = {row.pk for row in managed}
    others = [row for row in rows if row.pk not in adopted_ids][: 4 * PER_KIND * 3]
    say(
        f"== 3. adopted {len(managed)} in-scope people with no template (their access "
        f"recorded as exceptions) in {time.monotonic() - begun:.1f} s"
    )
    if len(managed) < 4 * MANAGED_PER_KIND:
        raise RuntimeError("too few people could be adopted; see adoption.draft's refusals")
    drift.detect(tenant)
    baseline = open_drift(tenant)
    adopted_accounts = {row.pk for row in managed}
    baseline_managed = {key for key in baseline if key[0] in adopted_accounts}
    say(f"  drift open on them before any change: {len(baseline_managed)}")

    # 4. 100 changes behind the portal's back ------------------------------------------------
    static_groups = [
        gid for gid, detail in catalog_rows(connection).items() if not detail.get("dynamic")
    ]
    changes = plan_changes(connection, managed, others, static_groups)
    graph = Graph(sandbox, directory_id, connection)
    begun = time.monotonic()
    try:
        for change in changes:
            make_change(graph, sandbox.url, change)
    finally:
        graph.close()
    injected = {c.drift_key() for c in changes if c.managed and c.drift_key()}
    say(
        f"== 4. {len(changes)} changes through Graph in {time.monotonic() - begun:.1f} s: "
        f"{ATTRIBUTE_CHANGES} attributes, {PER_KIND} each of disable, group add, group remove, "
        f"licence removal ({MANAGED_PER_KIND} of each on adopted people: {len(injected)} drift "
        "items injected)"
    )

    # 5. One incremental cycle --------------------------------------------------------------
    sandbox.reset_stats(directory_id)
    before = meter.sample()
    cursor = read(connection)
    spent = meter.span(before, meter.sample())
    stats = sandbox.stats(directory_id)
    calls = directory_calls(stats)
    read_s = (cursor.finished_at - cursor.started_at).total_seconds()
    found = open_drift(tenant)
    found_injected = injected & found
    unexpected = {key for key in found - baseline if key not in injected}
    figures.update(
        incremental_calls=calls, drift_found=len(found_injected), drift_injected=len(injected)
    )
    say(
        f"== 5. one incremental cycle: full={cursor.full}, {calls} directory calls "
        f"({dict(sorted(stats['calls'].items()))}), {cursor.accounts_read} accounts read, "
        f"read {read_s:.2f} s, scope + matching + drift {cycle_spans[0].wall:.1f} s, "
        f"whole cycle {spent.wall:.1f} s (target <= 10 calls; app assignments every "
        f"{settings.INVENTORY_APPS_SECONDS} s, not due)"
    )
    say(
        f"  drift found {len(found_injected)} of {len(injected)} injected; "
        f"{len(unexpected)} other new items" + (f": {sorted(unexpected)[:5]}" if unexpected else "")
    )
    missed = injected - found
    if missed:
        say(f"  missed: {sorted(missed)[:10]}")
    say("  " + spent.line(len(changes), "change"))
    figures["incremental_cpu_ms_per_change"] = portal_ms_per(spent, len(changes))
    rows_changed = Account.objects.filter(
        connection=connection, attributes__jobTitle="Changed by hand"
    ).count()
    say(f"  attribute changes seen in the rows: {rows_changed} of {ATTRIBUTE_CHANGES}")


def profiled(path: str, call):
    """`call()`, profiled into `path` (cProfile) when one is given."""
    if not path:
        return call()
    import cProfile

    profile = cProfile.Profile()
    try:
        return profile.runcall(call)
    finally:
        profile.dump_stats(path)


def catalog_rows(connection) -> dict[str, dict]:
    from provisioning.inventory.models import Resource

    return {
        r.remote_id: r.detail for r in Resource.objects.filter(connection=connection, kind="groups")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=20, help="project groups generated")
    parser.add_argument("--rate", type=float, default=10.0, help="the directory's calls/s")
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--db", default="", help="database name (default ..._reconcile_<pid>)")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--profile", default="", help="cProfile the full read into this file")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="bench-reconcile-")
    root = Path(tmp.name)
    prefix = f"bench-reconcile-{os.getpid()}"
    sandbox = None
    db_name = args.db or f"{DB_PREFIX}_{os.getpid()}"
    figures: dict[str, float] = {}
    machine = _harness.CpuMeter()
    run_start = machine.sample()
    try:
        (root / "tls").mkdir()
        sandbox = _harness.start_sandbox(root / "tls")
        # The connection's bucket in Redis, as the workers share it (no workers here).
        _harness.setup_stack(sandbox, db_name, prefix, REDIS)
        say(f"== stack: sandbox {sandbox.url}, PostgreSQL {db_name}, Redis {REDIS} ({prefix})")
        run(args, sandbox, figures)
    finally:
        cleanup_redis(prefix)
        _harness.close_stack(sandbox, db_name, keep_db=args.keep_db, tmp=tmp)

    def fmt(name: str, digits: int) -> str:
        value = figures.get(name)
        return "nan" if value is None else f"{value:.{digits}f}"

    span = machine.span(run_start, machine.sample())
    say("== the whole run: " + span.machine())
    say(
        f"accounts={fmt('accounts', 0)} full_share={fmt('full_share', 3)} "
        f"incremental_calls={fmt('incremental_calls', 0)} drift_found={fmt('drift_found', 0)} "
        f"drift_injected={fmt('drift_injected', 0)} "
        f"read_cpu_ms_per_1k_accounts={fmt('read_cpu_ms_per_1k_accounts', 1)} "
        f"cycle_cpu_ms_per_1k_accounts={fmt('cycle_cpu_ms_per_1k_accounts', 1)} "
        f"incremental_cpu_ms_per_change={fmt('incremental_cpu_ms_per_change', 1)} {span.keys()}"
    )


def cleanup_redis(prefix: str) -> None:
    try:
        import redis

        client = redis.Redis.from_url(REDIS)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    except Exception:  # noqa: BLE001, S110 - best effort
        pass


if __name__ == "__main__":
    main()
