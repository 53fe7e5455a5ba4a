"""Graph throttling as a client meets it: 429 with Retry-After as a rule, 429 without it
(Graph throttling guidance: "If no Retry-After header is provided by the response, we
recommend implementing an exponential backoff retry policy"), or 503 with the directory's
code Request_ThrottledTemporarily. `throttle_next` throttles the next calls whatever the
bucket holds; the calls after them flow. Seen through msgraph-sdk."""

from __future__ import annotations

import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from tests.sandbox.entra_support import EntraDir, run_sdk


def refused(entra: EntraDir) -> ODataError:
    async def work(client) -> ODataError:
        with pytest.raises(ODataError) as caught:
            await client.users.get()
        return caught.value

    return run_sdk(entra, work)


def users(entra: EntraDir) -> int:
    async def work(client) -> int:
        return len((await client.users.get()).value)

    return run_sdk(entra, work)


def retry_after(error: ODataError) -> str | None:
    headers = error.response_headers or {}
    return next((v for k, v in headers.items() if k.lower() == "retry-after"), None)


def test_429_carries_retry_after_by_default(entra: EntraDir) -> None:
    entra.behave(throttle_next=1)
    error = refused(entra)
    assert (error.response_status_code, error.error.code) == (429, "TooManyRequests")
    assert retry_after(error)
    assert users(entra) == 1


def test_429_without_retry_after(entra: EntraDir) -> None:
    entra.behave(throttle_next=2, throttle_retry_after=False)
    for _ in range(2):
        error = refused(entra)
        assert error.response_status_code == 429
        assert retry_after(error) is None
    assert users(entra) == 1  # the next call flows
    assert entra.stats()["throttled"] == 2


def test_503_request_throttled_temporarily(entra: EntraDir) -> None:
    entra.behave(throttle_next=1, throttle_status=503, throttle_retry_after=False)
    error = refused(entra)
    assert (error.response_status_code, error.error.code) == (503, "Request_ThrottledTemporarily")
    assert "throttled temporarily" in error.error.message
    assert retry_after(error) is None
    assert users(entra) == 1


def test_throttle_settings_are_validated(entra: EntraDir) -> None:
    with entra.server.control() as control:
        url = f"/_sandbox/entra/{entra.tenant_id}/behaviour"
        assert control.put(url, json={"throttle_status": 500}).status_code == 400
        assert control.put(url, json={"throttle_next": -1}).status_code == 400
        assert control.put(url, json={"throttle_retry_after": "no"}).status_code == 400
