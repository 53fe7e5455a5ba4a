"""How Graph answers a throttled call: 429 TooManyRequests with Retry-After as a rule, but
the header is not promised ("If no Retry-After header is provided by the response, we
recommend implementing an exponential backoff retry policy", Graph throttling guidance),
and the directory service may answer 503 Request_ThrottledTemporarily instead (Azure AD
Graph error codes). The directory's behaviour settings pick the shape."""

from __future__ import annotations

from sandbox.behaviour import BehaviourSettings, RateDecision
from sandbox.entra.errors import error_body
from sandbox.entra.router import GraphResponse


def throttled(settings: BehaviourSettings, decision: RateDecision) -> GraphResponse:
    wait_s = decision.retry_after_s
    headers = {"Retry-After": str(wait_s)} if settings.throttle_retry_after else {}
    if settings.throttle_status == 503:
        body = error_body(
            "Request_ThrottledTemporarily",
            f"Your request is throttled temporarily. Please try after {wait_s} seconds.",
        )
        return GraphResponse(503, body, headers)
    body = error_body(
        "TooManyRequests",
        "Too many requests. The request has been throttled; retry after the interval in "
        "the Retry-After header.",
    )
    return GraphResponse(429, body, headers)
