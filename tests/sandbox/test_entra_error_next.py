"""`error_next`: the next calls fail as `error_rate`'s faults do (500 generalException, or
503 serviceNotAvailable with Retry-After), whatever the share; the calls after them flow. A
test's fault where it wants it: each `$batch` sub-request is a call, the envelope is not."""

from __future__ import annotations

from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from tests.sandbox.entra_support import EntraDir, run_sdk


def status_of_a_read(entra: EntraDir) -> int:
    async def work(client) -> int:
        try:
            await client.users.get()
        except ODataError as error:
            return error.response_status_code
        return 200

    return run_sdk(entra, work)


def test_the_next_calls_fail_then_calls_flow(entra: EntraDir) -> None:
    entra.behave(error_next=2)
    first, second, third = (status_of_a_read(entra) for _ in range(3))
    assert {first, second} <= {500, 503} and third == 200
    assert entra.stats()["faults"] == {"error": 2}


def test_error_next_is_validated(entra: EntraDir) -> None:
    with entra.server.control() as control:
        url = f"/_sandbox/entra/{entra.tenant_id}/behaviour"
        assert control.put(url, json={"error_next": -1}).status_code == 400
        assert control.put(url, json={"error_next": 0.5}).status_code == 400
        assert control.put(url, json={"error_next": None}).status_code == 400
