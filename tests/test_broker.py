"""The embedded mode's file system broker: a worker never reads a message half written
(kombu's own wrote into the queue folder in place; a worker that found the file empty
stopped for good, and every later job stayed queued)."""

import os
import threading
import time
import uuid
from contextlib import suppress
from queue import Empty

from kombu import Connection
from kombu.utils.json import loads

from portal.broker import Channel, Transport


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
