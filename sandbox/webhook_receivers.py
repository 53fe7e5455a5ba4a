"""Webhook receivers: stand-ins for a PSA's or RMM's webhook URL, so the portal's outbound
webhooks are tested over real HTTPS.

A receiver records every POST (headers and body, as received) and answers with a status
sequence set by the control API (e.g. 500, 500, 200), then with `then` (200 by default);
a 429 or 503 carries `Retry-After` when one is set. It checks no signature: that is the
test's job, with the secret it was given.

- `PUT /_sandbox/webhook-receivers/{name}` {"statuses": [500, 200], "then": 200,
  "retry_after": "120"} creates or resets one (control token);
- `GET` the same path: what it received and what it will answer next; `DELETE` removes it;
- `POST /hooks/{name}`: the receiver itself (no token, as a real receiver's URL).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

MAX_RECORDED = 500  # per receiver: a runaway sender does not fill the sandbox's memory
MAX_BODY = 256 * 1024


@dataclass
class Receiver:
    name: str
    statuses: list[int] = field(default_factory=list)
    then: int = 200
    retry_after: str | None = None
    received: list[dict] = field(default_factory=list)

    def answer(self) -> Response:
        status = self.statuses.pop(0) if self.statuses else self.then
        headers = {}
        if self.retry_after and status in (429, 503):
            headers["Retry-After"] = self.retry_after
        return JSONResponse({"received": status < 300}, status_code=status, headers=headers)

    def to_state(self) -> dict:
        return {
            "name": self.name,
            "statuses_left": list(self.statuses),
            "then": self.then,
            "retry_after": self.retry_after,
            "received": self.received,
        }


def configure(receivers: dict[str, Receiver], name: str, body: dict) -> Receiver:
    statuses = [int(s) for s in body.get("statuses", [])]
    then = int(body.get("then", 200))
    if any(not 100 <= s <= 599 for s in [*statuses, then]):
        raise ValueError("statuses are HTTP status codes (100-599)")
    retry_after = body.get("retry_after")
    receiver = Receiver(name, statuses, then, str(retry_after) if retry_after else None)
    receivers[name] = receiver
    return receiver


async def receive(receivers: dict[str, Receiver], request: Request) -> Response:
    receiver = receivers.get(request.path_params["name"])
    if receiver is None:
        return JSONResponse({"error": "no such receiver"}, status_code=404)
    raw = await request.body()
    if len(receiver.received) < MAX_RECORDED:
        receiver.received.append(
            {
                "at": time.time(),
                "headers": dict(request.headers),
                "body": raw[:MAX_BODY].decode("utf-8", "replace"),
                "body_base64": base64.b64encode(raw[:MAX_BODY]).decode(),
            }
        )
    return receiver.answer()
