"""How the portal tells a time: one rule for every page, e-mail and partial (CSV and API
files stay ISO 8601).

- ``|day``: a day, "7 Dec 2026";
- ``|when``: a moment, "7 Dec 2026 14:47"; ``|when:"zone"`` adds the zone's name, for a
  reader who is not on a page that says its zone (an e-mail, a one-time link);
- ``|when_exact``: a moment to the second, "7 Dec 2026 14:47:05", where seconds tell events
  apart (the audit trail, a job's steps, a directory read);
- ``|ago``: how long ago, "5 minutes ago";
- ``|iso_day``: "2026-12-07", for a date input's value and data attributes, not for reading.

Times are in the current zone: the tenant's on a page of one tenant (``{% timezone %}`` or
``timezone.override``), else the portal's. These are builtins (portal/settings.py): no
template formats a date itself (tests/test_time_tags.py holds them to it).
"""

import datetime as dt

from django import template
from django.template.defaultfilters import date as format_date
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()

DAY = "j M Y"
MOMENT = "j M Y H:i"
EXACT = "j M Y H:i:s"


@register.filter(expects_localtime=True)
def day(moment: dt.date | None) -> str:
    return format_date(moment, DAY) if moment else ""


@register.filter(expects_localtime=True)
def when(moment: dt.date | None, zone: str = "") -> str:
    """A datetime to the minute; a date alone as its day."""
    if not moment:
        return ""
    if not isinstance(moment, dt.datetime):
        return day(moment)
    said = format_date(moment, MOMENT)
    if zone != "zone":
        return said
    return f"{said} {getattr(moment.tzinfo, 'key', None) or moment.tzname()}"  # Europe/Berlin


@register.filter(expects_localtime=True)
def when_exact(moment: dt.datetime | None) -> str:
    return format_date(moment, EXACT) if moment else ""


@register.filter(expects_localtime=True)
def iso_day(moment: dt.date | None) -> str:
    """The day as a form's date input and a data attribute read it: 2026-12-07."""
    if not moment:
        return ""
    return (moment.date() if isinstance(moment, dt.datetime) else moment).isoformat()


@register.filter
def ago(moment) -> str:
    """ "just now" within a minute (Django's timesince says "0 minutes"), else "5 minutes
    ago"; "" for no moment."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"
