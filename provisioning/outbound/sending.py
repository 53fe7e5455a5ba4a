"""The one seam for outgoing webhook requests: POST the body, never follow a redirect,
classify the answer once."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from provisioning.connectors.base import connect_attempts, ssl_context_for, unreachable
from provisioning.outbound.addresses import RefusedAddress, pinned_addresses

TIMEOUT_S = 10.0
USER_AGENT = "msp-portal-webhooks/1"
RETRY_AFTER_MAX_S = 24 * 3600


@dataclass(frozen=True)
class Answer:
    delivered: bool
    status_code: int | None = None
    error: str = ""
    retry_after_s: float | None = None  # what a 429 or 503 asked for


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    try:
        addresses = pinned_addresses(url)
    except RefusedAddress as exc:
        return Answer(False, error=str(exc))
    if not addresses:
        return Answer(False, error="Could not connect: the name does not resolve.")
    sent = {**headers, "content-type": "application/json", "user-agent": USER_AGENT}
    failures: list[tuple[str, str]] = []
    for address, connect_s in connect_attempts(addresses, TIMEOUT_S):
        try:
            return _post_to(url, address, connect_s, body, sent)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failures.append((address, type(exc).__name__))  # nothing sent: the next address
    return Answer(False, error=unreachable(httpx.URL(url).host, failures))


def _post_to(url: str, address: str, connect_s: float, body: bytes, headers: dict) -> Answer:
    """POST to `url` at `address` (the checked one, never the name resolved again), with
    the URL's host as the Host header and the TLS name asked for and verified.
    httpx.ConnectError or ConnectTimeout when `address` took no connection: nothing was
    sent."""
    parts = httpx.URL(url)
    try:
        client = httpx.Client(
            verify=ssl_context_for(url),
            timeout=httpx.Timeout(TIMEOUT_S, connect=connect_s),
            follow_redirects=False,
        )
        request = client.build_request(
            "POST",
            parts.copy_with(host=address),
            content=body,
            headers={**headers, "host": parts.netloc.decode("ascii")},
            extensions={"sni_hostname": parts.raw_host.decode("ascii")},
        )
        with client:
            # Streamed and never read: a receiver's answer body is not ours to hold.
            response = client.send(request, stream=True)
            response.close()
            return classify(response)
    except (httpx.ConnectError, httpx.ConnectTimeout):
        raise
    except httpx.TimeoutException:
        return Answer(False, error=f"No answer within {TIMEOUT_S:.0f} s.")
    except httpx.HTTPError as exc:
        return Answer(False, error=f"Could not connect: {type(exc).__name__}.")


def classify(response: httpx.Response) -> Answer:
    code = response.status_code
    if 200 <= code < 300:
        return Answer(True, code)
    if 300 <= code < 400:
        return Answer(False, code, "Answered with a redirect, which is not followed.")
    wait = retry_after(response.headers.get("retry-after")) if code in (429, 503) else None
    return Answer(False, code, f"Answered HTTP {code}.", wait)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (RFC 9110 10.2.3: delay-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # isdigit() alone takes "²", which float() refuses
        return min(float(text), RETRY_AFTER_MAX_S)
    try:
        at = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    seconds = (at - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_S)
