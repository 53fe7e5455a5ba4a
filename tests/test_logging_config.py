"""The portal's log: a refused request (4xx) is one line, never a traceback; 5xx keep theirs."""

import io
import logging
import sys

import pytest
from django.urls import reverse

from portal.logs import DropClientErrorTracebacks


@pytest.fixture
def console():
    """What settings.LOGGING's console handler writes, while the test runs."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, DropClientErrorTracebacks) for f in h.filters)
    )
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def test_a_403_logs_one_line_and_no_traceback(client, alpha, console):
    client.force_login(alpha.technician)
    assert client.get(reverse("staff_list")).status_code == 403
    written = console.getvalue()
    assert "Forbidden (Permission denied): /staff/" in written
    assert "Traceback" not in written and "PermissionDenied" not in written
    assert written.count("\n") == 1


def test_a_404_logs_no_traceback(client, msp_admin, console):
    client.force_login(msp_admin)
    assert client.get(reverse("outbox_detail", args=[404404])).status_code == 404
    assert "Traceback" not in console.getvalue()


def test_a_server_error_keeps_its_traceback(console):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("django.request").error(
            "Internal Server Error: /x", exc_info=sys.exc_info(), extra={"status_code": 500}
        )
    assert "Traceback" in console.getvalue() and "RuntimeError: boom" in console.getvalue()


def test_the_demo_logs_no_4xx_lines_at_all(client, alpha, console, settings):
    """rundemo sets REQUEST_LOG_LEVEL=ERROR for its processes: answers 4xx are not news."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel("ERROR")
    try:
        client.force_login(alpha.technician)
        assert client.get(reverse("staff_list")).status_code == 403
    finally:
        logger.setLevel(level)
    assert console.getvalue() == ""


def test_the_scim_clients_request_lines_are_not_logged(console):
    """httpx2 (the SCIM connector's client) logs each request's URL at INFO, a filter with a
    person's username in it included, as httpx does (held at WARNING for the SDKs)."""
    url = 'https://app.example/scim/v2/Users?filter=userName eq "ada.lovelace@contoso.example"'
    logging.getLogger("httpx2").info('HTTP Request: GET %s "HTTP/1.1 200 OK"', url)
    assert "ada.lovelace" not in console.getvalue()
