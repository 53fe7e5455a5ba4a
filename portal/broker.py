"""The embedded mode's broker: kombu's file system transport, with each message written whole
before a worker can see it.

kombu's `_put` creates the message's file in the queue folder and then writes it; a worker
listing the folder in between moves the empty file away, fails to decode it, and stops with
"Unrecoverable error: JSONDecodeError" (kombu issue #1551), leaving every later job queued.
Here a message is written under a name no queue matches and renamed into place, which POSIX
makes atomic."""

from __future__ import annotations

import os
import tempfile
import uuid
from contextlib import suppress
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
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
