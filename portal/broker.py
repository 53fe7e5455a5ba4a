"""The brokers: kombu's file system transport (the embedded mode), with each message written
whole before a worker can see it; kombu's Redis transport, with one client a channel.

kombu's `_put` creates the message's file in the queue folder and then writes it; a worker
listing the folder in between moves the empty file away, fails to decode it, and stops with
"Unrecoverable error: JSONDecodeError" (kombu issue #1551), leaving every later job queued.
Here a message is written under a name no queue matches and renamed into place, which POSIX
makes atomic.

kombu's Redis channel builds a `redis.Redis` for each command it sends outside its consumer's
connection (`conn_or_acquire`): with acks late, one to store each message received as unacked
and one to remove it at the ack, and one for each message published. redis-py 8 fills a
client's ~170 response callbacks in its `__init__` (about 50 µs each), a tenth of what a task
message costs a worker. `RedisChannel` keeps one, built by kombu's own `conn_or_acquire` on the
channel's pool (a redis-py client is safe to share between threads: each command takes a
connection from the pool); what is stored, and when, is kombu's, so a killed worker's messages
come back after the visibility timeout as before. tests/test_broker.py fails if kombu stops
sending those commands through `conn_or_acquire`."""

from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import contextmanager, suppress
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.transport import redis as kombu_redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        folder = self.data_folder_out
        # kombu's name: the folder's sorted order is the queue's order.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        handle, part = tempfile.mkstemp(prefix=".part-", dir=folder)  # matches no queue
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(part, os.path.join(folder, name))
        except OSError as exc:
            with suppress(OSError):
                os.unlink(part)
            raise ChannelError(f"Cannot add a message to {folder!r}") from exc


class Transport(filesystem.Transport):
    Channel = Channel


class RedisChannel(kombu_redis.Channel):
    _kept_client = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        kept = self._kept_client
        if kept is None or kept.connection_pool is not self.pool:  # a reconnect: a new pool
            with super().conn_or_acquire() as kept:
                self._kept_client = kept
        yield kept


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel
