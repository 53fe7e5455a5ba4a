"""The sandbox's webhook receivers: what a PSA's webhook URL does, recorded for the tests."""

from __future__ import annotations

import uuid

import httpx

from tests.sandbox.server import SandboxServer


def made(control: httpx.Client, **body) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    control.put(f"/_sandbox/webhook-receivers/{name}", json=body).raise_for_status()
    return name


def post(sandbox: SandboxServer, name: str, body: bytes = b"{}", **headers) -> httpx.Response:
    with httpx.Client(verify=str(sandbox.ca)) as http:
        return http.post(f"{sandbox.url}/hooks/{name}", content=body, headers=headers)


def test_a_receiver_answers_its_status_sequence_and_records_each_post(
    sandbox_server: SandboxServer, control: httpx.Client
):
    name = made(control, statuses=[500, 503, 200], then=204)
    codes = [
        post(sandbox_server, name, b'{"n":%d}' % i, **{"webhook-id": "m1"}).status_code
        for i in range(4)
    ]
    assert codes == [500, 503, 200, 204]
    state = control.get(f"/_sandbox/webhook-receivers/{name}").json()
    assert [r["body"] for r in state["received"]] == ['{"n":0}', '{"n":1}', '{"n":2}', '{"n":3}']
    assert all(r["headers"]["webhook-id"] == "m1" for r in state["received"])
    assert state["statuses_left"] == []


def test_retry_after_goes_with_429_and_503_only(
    sandbox_server: SandboxServer, control: httpx.Client
):
    name = made(control, statuses=[429, 503, 500], retry_after="120")
    answers = [post(sandbox_server, name) for _ in range(3)]
    assert [a.headers.get("retry-after") for a in answers] == ["120", "120", None]


def test_the_control_api_guards_receivers_and_refuses_bad_statuses(
    sandbox_server: SandboxServer, control: httpx.Client
):
    with httpx.Client(verify=str(sandbox_server.ca)) as http:
        unguarded = http.get(f"{sandbox_server.url}/_sandbox/webhook-receivers/x")
    assert unguarded.status_code == 401
    assert control.put("/_sandbox/webhook-receivers/x", json={"statuses": [700]}).status_code == 400
    assert post(sandbox_server, "no-such-receiver").status_code == 404
    name = made(control)
    assert control.delete(f"/_sandbox/webhook-receivers/{name}").status_code == 204
    assert control.get(f"/_sandbox/webhook-receivers/{name}").status_code == 404
