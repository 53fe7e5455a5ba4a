"""The bridge's one event loop per process is uvloop's (docs/benchmarks.md, session 27:
loop19): the SDKs' calls, a call given up by `run`, and a replaced client's close all run
on it, in its daemon thread."""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict

import pytest
import uvloop

from provisioning.connectors import bridge


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


@pytest.fixture
def own_loop(monkeypatch):
    """A bridge with no loop and no client yet, as in a fresh worker process; its loop is
    stopped after the test, and the process's own bridge is left as it was."""
    monkeypatch.setattr(bridge, "_loop", None)
    monkeypatch.setattr(bridge, "_clients", OrderedDict())
    yield
    loop = bridge._loop
    if loop is not None and not loop.is_closed():
        loop.call_soon_threadsafe(loop.stop)


def test_a_process_runs_the_sdks_on_a_uvloop_loop_in_a_daemon_thread(own_loop):
    loop = bridge.run(running_loop())

    assert isinstance(loop, uvloop.Loop)
    assert bridge.run(running_loop()) is loop  # one loop, kept across calls
    thread = next(t for t in threading.enumerate() if t.name == "sdk-bridge" and t.is_alive())
    assert thread.daemon


def test_a_closed_loop_is_replaced_by_another_uvloop_loop(own_loop):
    first = bridge.run(running_loop())
    first.call_soon_threadsafe(first.stop)
    while first.is_running():
        threading.Event().wait(0.01)
    first.close()

    second = bridge.run(running_loop())

    assert second is not first
    assert isinstance(second, uvloop.Loop)


def test_a_call_given_up_is_cancelled_on_the_loop(own_loop):
    cancelled = threading.Event()

    async def hangs() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(TimeoutError):
        bridge.run(hangs(), timeout=0.2)

    assert cancelled.wait(5)
    assert bridge.run(running_loop()).is_running()  # the loop goes on serving calls


def test_a_replaced_client_is_closed_on_the_loop_after_its_grace(own_loop, monkeypatch):
    monkeypatch.setattr(bridge, "CLOSE_AFTER_S", 0.05)
    closed_on: list[asyncio.AbstractEventLoop] = []
    done = threading.Event()

    async def close(client: str) -> None:
        closed_on.append(asyncio.get_running_loop())
        done.set()

    old = bridge.cached_client(("conn", "v1"), lambda: "old client", stale=close)
    new = bridge.cached_client(("conn", "v2"), lambda: "new client", stale=close)

    assert (old, new) == ("old client", "new client")
    assert done.wait(5)
    assert closed_on == [bridge.run(running_loop())]
    assert isinstance(closed_on[0], uvloop.Loop)
