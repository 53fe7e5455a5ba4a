"""One way to tell a time: pages said "7 Dec 2026 14:47", "7 Dec 14:48" and "Mon 21 Dec 2026
14:48" for the same kind of moment. Every template now goes through portal's time filters."""

import datetime as dt
import pathlib
import re

from django.template import engines
from django.utils import timezone

ROOT = pathlib.Path(__file__).resolve().parents[1]
OWN_FORMAT = re.compile(r"\|\s*(date|time)\s*:")
MOMENT = dt.datetime(2026, 12, 21, 14, 48, 5, tzinfo=dt.UTC)


def _render(source: str, **context) -> str:
    return engines["django"].from_string(source).render(context)


def test_no_template_formats_a_date_itself():
    own = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "templates").rglob("*"))
        if path.suffix in (".html", ".txt")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if OWN_FORMAT.search(line)
    ]
    assert not own, f"use |day, |when or |when_exact (portal/templatetags/time_tags.py): {own}"


def test_a_day_a_moment_and_an_exact_moment():
    said = _render(
        "{{ m|day }} / {{ m|when }} / {{ m|when_exact }} / {{ d|when }} / {{ none|when }}",
        m=MOMENT,
        d=MOMENT.date(),
        none=None,
    )
    assert said == "21 Dec 2026 / 21 Dec 2026 14:48 / 21 Dec 2026 14:48:05 / 21 Dec 2026 / "


def test_the_time_is_the_current_zones_and_can_say_it():
    with timezone.override("Europe/Berlin"):
        assert _render("{{ m|when:'zone' }}", m=MOMENT) == "21 Dec 2026 15:48 Europe/Berlin"
    page = "{% load tz %}{% timezone 'America/New_York' %}{{ m|when }}{% endtimezone %}"
    assert _render(page, m=MOMENT) == "21 Dec 2026 09:48"
