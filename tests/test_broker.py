"""The embedded mode's file system broker: a worker never reads a message half written
(kombu's own wrote into the queue folder in place; a worker that found the file empty
stopped for good, and every later job stayed queued). The Redis broker: one client a channel
for what it stores around each message (kombu's built a `redis.Redis` each time), and a
message taken and never acknowledged still comes back."""

import os
import threading
import time
import uuid
from contextlib import suppress
from queue import Empty

import pytest
import redis
from kombu import Connection
from kombu.utils.json import loads

from portal.broker import Channel, RedisChannel, RedisTransport, Transport
from tests.provisioning.throttle_support import REDIS_TEST_URL


def channel_on(folder):
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    options |= {"processed_folder": str(folder / "done"), "store_processed": False}
    connection = Connection(
        "filesystem://localhost/", transport=Transport, transport_options=options
    )
    channel = connection.default_channel
    assert isinstance(channel, Channel)
    return connection, channel


def test_a_message_is_not_in_the_queue_until_it_is_whole(tmp_path, monkeypatch):
    connection, channel = channel_on(tmp_path)
    rename = os.replace
    seen_while_writing = []

    def replace_after_a_look(source, target):
        with open(source, "rb") as part:
            assert loads(part.read())["body"] == "hello"  # written whole before it moves
        seen_while_writing.append(channel._size("jobs"))
        rename(source, target)

    monkeypatch.setattr(os, "replace", replace_after_a_look)
    channel._put("jobs", {"body": "hello"})
    assert seen_while_writing == [0]
    assert channel._size("jobs") == 1
    assert channel._get("jobs") == {"body": "hello"}
    assert channel._size("jobs") == 0
    assert [p for p in os.listdir(tmp_path) if p.startswith(".part")] == []
    connection.release()


def test_a_worker_polling_while_a_long_message_is_written_reads_it_whole(tmp_path):
    """A message that takes a while to serialise (kombu's JSON encoder calls back into
    Python for each UUID, so the polling thread runs meanwhile)."""
    sender, sending = channel_on(tmp_path)
    reader, reading = channel_on(tmp_path)
    ids = [uuid.uuid4() for _ in range(60_000)]
    thread = threading.Thread(target=sending._put, args=("jobs", {"ids": ids}))
    thread.start()
    got = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        with suppress(Empty):
            got.append(reading._get("jobs"))
    thread.join()
    assert got == [{"ids": ids}]
    sender.release()
    reader.release()


@pytest.fixture
def redis_broker():
    """A connection to the test Redis through the portal's transport, on queues of its own;
    what kombu keeps for unacknowledged messages under keys of this test only."""
    tag = uuid.uuid4().hex
    options = {"unacked_key": f"unacked-{tag}", "unacked_index_key": f"unacked-index-{tag}"}
    options["unacked_mutex_key"] = f"unacked-mutex-{tag}"
    connection = Connection(REDIS_TEST_URL, transport=RedisTransport, transport_options=options)
    try:
        connection.connect()
    except Exception:  # noqa: BLE001 - kombu wraps the connection error in its own
        pytest.skip(f"no Redis at {REDIS_TEST_URL}")
    assert isinstance(connection.default_channel, RedisChannel)
    yield connection, f"jobs-{tag}", options
    client = redis.Redis.from_url(REDIS_TEST_URL)
    bindings = [f"_kombu.binding.jobs-{tag}", f"_kombu.binding_permanent.jobs-{tag}"]
    client.delete(f"jobs-{tag}", *options.values(), *bindings)
    client.close()
    connection.release()


def test_a_redis_channel_sends_messages_and_acks_on_one_client(redis_broker, monkeypatch):
    connection, queue_name, _ = redis_broker
    queue = connection.SimpleQueue(queue_name)
    queue.put({"job": 0})
    queue.get(timeout=5).ack()  # the channel's clients and pools built
    built = []
    init = redis.Redis.__init__

    def counted(self, *args, **kwargs):
        built.append(self)
        init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counted)
    for job in range(1, 6):
        queue.put({"job": job})
        message = queue.get(timeout=5)
        assert message.payload == {"job": job}
        message.ack()
    assert built == []  # kombu's own: 4 a message (the put, the take, its unacked record, the ack)
    queue.close()


def test_a_message_taken_and_never_acknowledged_comes_back(redis_broker):
    """What a killed worker leaves: kombu's record of the message it took, which brings the
    message back to the queue once the visibility timeout has passed."""
    connection, queue_name, options = redis_broker
    waiting = redis.Redis.from_url(REDIS_TEST_URL)
    queue = connection.SimpleQueue(queue_name)
    queue.put({"job": 1})
    assert queue.get(timeout=5).payload == {"job": 1}  # taken, not acknowledged
    assert waiting.llen(queue_name) == 0
    later = Connection(
        REDIS_TEST_URL,
        transport=RedisTransport,
        transport_options={**options, "visibility_timeout": 0},
    )
    later.default_channel.qos.restore_visible(num=10)
    assert waiting.llen(queue_name) == 1
    again = later.SimpleQueue(queue_name).get(timeout=5)
    assert again.payload == {"job": 1}
    again.ack()
    later.release()
    queue.close()
    waiting.close()
