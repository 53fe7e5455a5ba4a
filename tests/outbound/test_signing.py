"""Signatures per the Standard Webhooks spec, checked against the spec's own example."""

import json
import time

import pytest

from provisioning.outbound import signing

# From the spec's reference library tests (github.com/standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py, test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_signature_of_the_specs_example():
    assert signing.signature(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_specs_example_verifies_at_its_time():
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    signing.verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict:
    return signing.headers([secret], "evt-1", timestamp or int(time.time()), body)


def test_a_changed_body_is_refused():
    secret = signing.new_secret()
    body = json.dumps({"type": "job.failed"}).encode()
    headers = signed(secret, body)
    signing.verify(secret, headers, body)
    with pytest.raises(signing.VerificationError, match="no matching signature"):
        signing.verify(secret, headers, body.replace(b"failed", b"succeeded"))


def test_another_secret_is_refused():
    body = b"{}"
    with pytest.raises(signing.VerificationError):
        signing.verify(signing.new_secret(), signed(signing.new_secret(), body), body)


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_refused(skew):
    secret, body = signing.new_secret(), b"{}"
    headers = signed(secret, body, int(time.time()) + skew)
    with pytest.raises(signing.VerificationError, match="five minutes"):
        signing.verify(secret, headers, body)


def test_missing_headers_are_refused():
    secret, body = signing.new_secret(), b"{}"
    headers = signed(secret, body)
    del headers["webhook-id"]
    with pytest.raises(signing.VerificationError, match="missing"):
        signing.verify(secret, headers, body)


def test_during_a_rotation_either_secret_verifies():
    old, new, body = signing.new_secret(), signing.new_secret(), b'{"a":1}'
    headers = signing.headers([new, old], "evt-2", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    signing.verify(old, headers, body)
    signing.verify(new, headers, body)


def test_new_secrets_carry_the_prefix_and_differ():
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
