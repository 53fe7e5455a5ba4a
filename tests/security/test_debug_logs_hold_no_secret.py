"""With LOG_LEVEL=DEBUG (an operator chasing a problem), the log holds no key either.

Django's template engine logs every variable a template looks up and does not find at DEBUG,
with the whole context in the message: the layout looks one up on every page, so the page
that shows a new API token once would write the clear token into the log, and a password
reset page its link (the request's path)."""

from __future__ import annotations

import copy
import logging
import logging.config
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.api.test_token_pages import clear_token_in
from tests.factories import signed_in

pytestmark = pytest.mark.django_db


def logging_at(level: str) -> dict:
    """settings.LOGGING as `LOG_LEVEL=level` builds it (the loggers that follow LOG_LEVEL)."""
    config = copy.deepcopy(settings.LOGGING)
    config["root"]["level"] = level
    config["loggers"]["django"]["level"] = level
    return config


class Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        """As a handler writes them, tracebacks included."""
        return "\n".join(logging.Formatter().format(record) for record in self.records)


@pytest.fixture
def debug_log():
    """Every record the portal's logging lets through as configured with LOG_LEVEL=DEBUG."""
    assert settings.LOGGING["root"]["level"] == settings.LOG_LEVEL  # what logging_at mirrors
    assert settings.LOGGING["loggers"]["django"]["level"] == settings.LOG_LEVEL
    logging.config.dictConfig(logging_at("DEBUG"))
    kept = Kept()
    for name in ("", "django"):  # the two handlers of the configuration write from these
        logging.getLogger(name).addHandler(kept)
    yield kept
    logging.config.dictConfig(settings.LOGGING)


def test_a_new_api_tokens_page_leaves_the_token_out_of_a_debug_log(client, alpha, debug_log):
    signed_in(client, alpha.technician)
    expires = f"{timezone.localdate() + timedelta(days=30)}"
    response = client.post(reverse("api_token_create"), {"name": "PSA", "expires_on": expires})
    clear = clear_token_in(response)
    logging.getLogger("portal").debug("listening")
    assert "listening" in debug_log.text  # the log keeps DEBUG records
    assert clear not in debug_log.text
    assert not [r for r in debug_log.records if r.name.startswith("django.template")]
