"""The one bridge from synchronous code (views, Celery tasks) to the async SDKs.

One event loop per process, running in a daemon thread; SDK clients are created on it and
cached per connection, so their pooled connections stay bound to a live loop (a client
reused across `asyncio.run()` calls fails with "Event loop is closed"), and a warm job
builds no client, asks for no token and opens no TLS connection.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import sys
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

MAX_CLIENTS = 256  # connections with a live client in one process; the least recent go
CLOSE_AFTER_S = 120.0  # a replaced client is closed this much later: a job may still use it
CALL_TIMEOUT_S = 60.0  # the longest `run` waits for a call before it gives it up (cancelled)

_lock = threading.RLock()
_loop: asyncio.AbstractEventLoop | None = None
_clients: OrderedDict[tuple, Any] = OrderedDict()  # least recently used first

# httpcore looks for sniffio (`import sniffio`) several times a request; when it is not
# installed each failed import searches the whole sys.path again (~0.1 ms of CPU). A None
# in sys.modules makes that import fail at once, as it would anyway.
if importlib.util.find_spec("sniffio") is None:
    sys.modules.setdefault("sniffio", None)


def _running_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="sdk-bridge", daemon=True).start()
        return _loop


def run(coroutine: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_S) -> T:
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
    """The client cached under `key` (connection id, credential version), else a new one.

    A client cached under an older key of the same connection (`key[0]`), and the least
    recently used beyond MAX_CLIENTS, leave the cache and are closed (`stale`) on the bridge
    loop CLOSE_AFTER_S later.
    """
    with _lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        for old_key in [k for k in _clients if k[0] == key[0]]:
            _retire(_clients.pop(old_key), stale)
        client = _clients[key] = factory()
        while len(_clients) > MAX_CLIENTS:
            _retire(_clients.popitem(last=False)[1], stale)
        return client


def _retire(client: T, stale: Callable[[T], Awaitable] | None) -> None:
    if stale is None:
        return

    async def close() -> None:
        await asyncio.sleep(CLOSE_AFTER_S)
        await stale(client)

    asyncio.run_coroutine_threadsafe(close(), _running_loop())


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
