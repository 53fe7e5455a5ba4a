"""How many simple GETs per second the sandbox serves (latency 0), over HTTPS keep-alive.

Starts the sandbox itself (subprocess, free port, temporary CA, demo seed), then runs a few
load processes, each with many keep-alive TLS connections speaking minimal HTTP/1.1 (a
general-purpose Python client would measure itself, not the server). Reads: GET a demo user
by id through Graph (token check, routing, behaviour, JSON), and the health endpoint.

    .venv/bin/python bench/sandbox.py [--seconds 5] [--procs 2] [--conns 16]

Beside each rate, the sandbox's CPU per request (its process group, from /proc) and the
machine's busy cores and load average (`_harness.CpuMeter`): the load processes compete with
the server for the same cores.

Last line: sandbox_gets_per_s=<number> sandbox_cpu_us_per_get=<µs> loadavg_start=<1m>,<5m>,<15m>
loadavg=<1m>,<5m>,<15m> busy_cores=<n> (the Graph GET figures; the load over both runs).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # before bench/: `sandbox` is the package, not this file

import _harness  # noqa: E402

from sandbox.demo_directories import ENTRA_DEMO  # noqa: E402


def token_and_user(url: str, ca: str) -> tuple[str, str]:
    demo = ENTRA_DEMO["contoso"]
    token = httpx.post(
        f"{url}/{demo['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": demo["client_id"],
            "client_secret": demo["client_secret"],
            "scope": "https://graph.microsoft.com/.default",
        },
        verify=ca,
    ).json()["access_token"]
    users = httpx.get(
        f"{url}/v1.0/users",
        params={"$top": "1"},
        verify=ca,
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    return token, users["value"][0]["id"]


async def _connection(port: int, ctx: ssl.SSLContext, request: bytes, stop: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
    done = 0
    try:
        while time.monotonic() < stop:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done += 1
    finally:
        writer.close()
    return done


def _load(port: int, ca: str, request: bytes, conns: int, seconds: float, out: mp.Queue) -> None:
    import uvloop

    async def main() -> int:
        ctx = ssl.create_default_context(cafile=ca)
        stop = time.monotonic() + seconds
        counts = await asyncio.gather(
            *(_connection(port, ctx, request, stop) for _ in range(conns))
        )
        return sum(counts)

    out.put(uvloop.run(main()))


def measure(port: int, ca: str, request: bytes, procs: int, conns: int, seconds: float) -> float:
    """Requests served per second, `procs` processes x `conns` connections for `seconds`."""
    out: mp.Queue = mp.Queue()
    workers = [
        mp.Process(target=_load, args=(port, ca, request, conns, seconds, out))
        for _ in range(procs)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    total = sum(out.get() for _ in workers)
    elapsed = time.monotonic() - started
    for worker in workers:
        worker.join()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tls_dir:
        sandbox = _harness.start_sandbox(Path(tls_dir), seed="demo")
        cpu = _harness.CpuMeter(sandbox=lambda: _harness.group_cpu_seconds(sandbox.process.pid))
        try:
            url, ca = sandbox.url, str(sandbox.ca)
            port = int(url.rsplit(":", 1)[1])
            token, user_id = token_and_user(url, ca)
            graph_get = (
                f"GET /v1.0/users/{user_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
            health = f"GET /_sandbox/health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
            measure(port, ca, health, 1, 4, 1.0)  # warm up
            run_start = cpu.sample()
            with cpu.measure() as health_spans:
                health_rate = measure(port, ca, health, args.procs, args.conns, args.seconds)
            with cpu.measure() as graph_spans:
                graph_rate = measure(port, ca, graph_get, args.procs, args.conns, args.seconds)
            run = cpu.span(run_start, cpu.sample())
        finally:
            _harness.stop_group(sandbox.process)
    health_us = health_spans[0].ms_per(health_rate * health_spans[0].wall) * 1000
    graph_us = graph_spans[0].ms_per(graph_rate * graph_spans[0].wall) * 1000
    print(
        f"clients: {args.procs} processes x {args.conns} keep-alive TLS connections, "
        f"{args.seconds:.0f} s per run, latency 0, {os.cpu_count()} CPUs"
    )
    for route, rate, us in (
        ("GET /_sandbox/health", health_rate, health_us),
        ("GET /v1.0/users/{id} (Graph)", graph_rate, graph_us),
    ):
        print(f"{route:<30}{rate:8.0f} req/s, sandbox CPU {us:.0f} µs each")
    print(run.machine())
    print(f"sandbox_gets_per_s={graph_rate:.0f} sandbox_cpu_us_per_get={graph_us:.0f} {run.keys()}")


if __name__ == "__main__":
    main()
