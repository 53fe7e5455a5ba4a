"""Graph JSON batching: POST /v1.0/$batch with up to 20 sub-requests, as strict as Graph.

- ids are unique without regard to case; a request with a body carries a Content-Type
  header; URLs are relative to the version ("/users/x"; an absolute URL is refused); a
  malformed batch is a 400 for the whole batch.
- Independent requests run in any order: here a shuffled one, seeded by the batch body and
  the directory's `batch_order_seed` (so a test can reproduce an order). Only `dependsOn`
  orders requests; it must name requests listed before, and a batch is either fully
  parallel (no `dependsOn`) or fully sequential (every request but the first depends on
  another). A dependent of a failed request is answered 424 without running. msgraph-core's
  `depends_on` spelling is not Graph's and orders nothing.
- Responses come in the order the requests ran; the ids tell which is whose.

Each sub-request is throttled on its own; a throttled one is answered inside a 200 batch
response, as Graph does. GET sub-requests run through the same handlers as direct GETs
(status, headers, body and `@odata.nextLink` per sub-request). The stats count each
sub-request under its route and as `batched`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import random
from urllib.parse import parse_qsl, unquote, urlsplit

from sandbox.entra.errors import GraphError, error_body
from sandbox.entra.pipeline import (
    Caller,
    admit,
    error_response,
    execute,
    gateway_timeout,
    hang,
    is_json,
    no_segment,
)
from sandbox.entra.router import (
    BAD_BODY,
    NO_BODY,
    GraphRequest,
    GraphResponse,
    repeated_options,
    router,
)

MAX_REQUESTS = 20


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def _split_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    path = unquote(parts.path)  # as the server decodes the path of a request of its own
    if not path.startswith("/"):
        path = "/" + path
    return path, parse_qsl(parts.query, keep_blank_values=True)


def _validate(data: object) -> list[dict]:
    if not isinstance(data, dict) or not isinstance(data.get("requests"), list):
        raise _bad("Invalid batch payload format.")
    requests = data["requests"]
    if not requests:
        raise _bad("Invalid batch payload format: requests must not be empty.")
    if len(requests) > MAX_REQUESTS:
        raise _bad(f"Number of requests exceeds the maximum of {MAX_REQUESTS}.")
    seen: set[str] = set()
    independent = 0
    for sub in requests:
        independent += not _validate_one(sub, seen)
        seen.add(str(sub["id"]).casefold())
    if independent < len(requests) and independent > 1:
        raise _bad("Batch should be either fully sequential or fully parallel.")
    return requests


def _validate_one(sub: object, seen: set[str]) -> list[str]:
    """What `sub` depends on, once it is found valid after the requests `seen`."""
    if not isinstance(sub, dict):
        raise _bad("Invalid batch payload format.")
    for key in ("id", "method", "url"):
        if not sub.get(key):
            raise _bad(f"Batch request is missing the required property '{key}'.")
    sub_id = str(sub["id"])
    if sub_id.casefold() in seen:
        raise _bad(f"Batch request ids must be unique; '{sub_id}' is repeated.")
    url = urlsplit(str(sub["url"]))
    if url.scheme or url.netloc:
        raise _bad(
            f"Invalid request URL '{sub['url']}' in request '{sub_id}': a batch request URL "
            "is relative to the version, such as /users."
        )
    if "body" in sub and not _has_content_type(sub.get("headers")):
        raise _bad(f"Write request id : {sub_id} does not contain Content-Type header or body.")
    depends = _depends(sub)
    for dep in depends:
        if dep.casefold() not in seen:
            raise _bad(f"Request '{sub_id}' depends on '{dep}', which does not precede it.")
    return depends


def _has_content_type(headers: object) -> bool:
    return isinstance(headers, dict) and any(
        str(k).lower() == "content-type" and v for k, v in headers.items()
    )


def _depends(sub: dict) -> list[str]:
    deps = sub.get("dependsOn") or []
    return [str(d) for d in deps] if isinstance(deps, list) else [str(deps)]


def run_order(requests: list[dict], raw: bytes, seed: int) -> list[dict]:
    """An order Graph could run the requests in: each after what it depends on, the rest
    shuffled (reproducibly: the same body and seed give the same order)."""
    rng = random.Random(hashlib.sha256(b"%d:" % seed + raw).hexdigest())
    depends = [[d.casefold() for d in _depends(s)] for s in requests]
    done: set[str] = set()
    pending = list(range(len(requests)))  # positions: the ids are unique
    order = []
    while pending:
        ready = [i for i in pending if all(d in done for d in depends[i])]
        chosen = rng.choice(ready)
        pending.remove(chosen)
        done.add(str(requests[chosen]["id"]).casefold())
        order.append(requests[chosen])
    return order


def _sub_response(sub_id: str, resp: GraphResponse) -> dict:
    item: dict = {
        "id": sub_id,
        "status": resp.status,
        "headers": {"Content-Type": "application/json", **resp.headers},
    }
    if resp.text is not None:
        item["headers"]["Content-Type"] = "text/plain"
        item["body"] = resp.text
    elif resp.body is not None:
        item["body"] = resp.body
    else:
        item["headers"].pop("Content-Type")
    return item


def _sub_body(sub: dict) -> object:
    """A JSON object as is; a string is base64 (how Graph and msgraph-core send other bodies)."""
    body = sub.get("body", NO_BODY)
    if isinstance(body, str):
        try:
            body = json.loads(base64.b64decode(body, validate=True))
        except (ValueError, binascii.Error):
            return BAD_BODY
    if body is None:
        return NO_BODY
    return body if isinstance(body, dict) or body is NO_BODY else BAD_BODY


def _run_one(caller: Caller, sub: dict, base_url: str) -> tuple[GraphResponse, str]:
    method = str(sub["method"]).upper()
    path, query = _split_url(str(sub["url"]))
    tenant = caller.tenant
    try:
        route, params = router.match(method, path)
        if route is None or route.template == "/$batch":
            raise no_segment(path)
    except GraphError as exc:
        return error_response(exc), "/v1.0/{unknown}"
    template = "/v1.0" + route.template
    early, fault = admit(caller)
    if early is not None:
        tenant.stats.record(method, template, early.status, fault, batched=True)
        return early, template
    body = _sub_body(sub)
    raw_headers = sub.get("headers")
    headers = (
        {str(k).lower(): str(v) for k, v in raw_headers.items()}
        if isinstance(raw_headers, dict)
        else {}
    )
    if body is not NO_BODY and not is_json(headers.get("content-type")):
        # Read as the request alone would be (pipeline.parse_body): a body is JSON only
        # under that type, else "Unable to read JSON request payload …" for this request.
        body = BAD_BODY
    req = GraphRequest(
        tenant,
        caller.client_id,
        method,
        path,
        dict(query),
        body,
        base_url,
        params,
        headers,
        repeated_options(query),
    )
    resp = execute(route, req)
    if method != "GET" and resp.status < 400 and tenant.behaviour.draw_failed_after():
        tenant.stats.record(method, template, 504, "failed_after", batched=True)
        return gateway_timeout(), template
    tenant.stats.record(method, template, resp.status, batched=True)
    return resp, template


async def run_batch(caller: Caller, raw: bytes, base_url: str) -> GraphResponse:
    try:
        data = json.loads(raw) if raw.strip() else None
    except ValueError:
        return error_response(_bad("Unable to read JSON request payload."))
    try:
        requests = _validate(data)
    except GraphError as exc:
        return error_response(exc)
    behaviour = caller.tenant.behaviour
    await behaviour.delay(caller.tenant.stats)
    if behaviour.draw_timeout():
        return await hang()
    statuses: dict[str, int] = {}
    responses = []
    for sub in run_order(requests, raw, behaviour.settings.batch_order_seed):
        sub_id = str(sub["id"])
        if any(statuses[d.casefold()] >= 400 for d in _depends(sub)):
            resp = GraphResponse(
                424, error_body("FailedDependency", "The dependent request failed.")
            )
        else:
            resp, _ = _run_one(caller, sub, base_url)
        statuses[sub_id.casefold()] = resp.status
        responses.append(_sub_response(sub_id, resp))
    writes = any(str(sub["method"]).upper() != "GET" for sub in requests)
    if writes and behaviour.draw_lost_answer():
        return await hang()  # carried out, its answer lost
    return GraphResponse(200, {"responses": responses})
