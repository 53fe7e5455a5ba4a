"""The one bridge from synchronous code (views, Celery tasks) to the async SDKs.

One event loop per process, running in a daemon thread; SDK clients are created on it and
cached per connection, so their pooled connections stay bound to a live loop (a client
reused across `asyncio.run()` calls fails with "Event loop is closed").
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.RLock()
_loop: asyncio.AbstractEventLoop | None = None
_clients: dict[tuple, Any] = {}


def _running_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="sdk-bridge", daemon=True).start()
        return _loop


def run(coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run `coroutine` on the bridge loop and wait for its result (or its exception)."""
    future = asyncio.run_coroutine_threadsafe(coroutine, _running_loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


def cached_client(
    key: tuple, factory: Callable[[], T], stale: Callable[[T], Awaitable] | None = None
) -> T:
    """The client cached under `key` (e.g. connection id + credential version), else a new one.

    Clients cached under an older key for the same connection are closed on the bridge loop.
    """
    with _lock:
        client = _clients.get(key)
        if client is None:
            for old_key in [k for k in _clients if k[0] == key[0]]:
                old = _clients.pop(old_key)
                if stale is not None:
                    asyncio.run_coroutine_threadsafe(stale(old), _running_loop())
            client = _clients[key] = factory()
        return client


@atexit.register
def _close_all() -> None:
    """Close cached SDK clients so their sessions end cleanly when the process exits."""
    with _lock:
        clients, loop = list(_clients.values()), _loop
        _clients.clear()
    if loop is None or loop.is_closed():
        return
    for client in clients:
        close = getattr(client, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):  # best effort at exit
                asyncio.run_coroutine_threadsafe(close(), loop).result(5)
