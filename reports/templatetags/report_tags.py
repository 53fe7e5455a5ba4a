"""Template helpers of the reports: durations in words and sortable column links."""

from django import template

from portal.templatetags.time_tags import ago

register = template.Library()

# Columns that read best largest first on the first click.
ASCENDING_FIRST = {"name", "expiring", "licences"}


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as people say it: "40 s", "12 min", "3 h 20 min", "2.5 days"."""
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 36:
        whole = int(hours)
        rest = round((hours - whole) * 60)
        return f"{whole} h {rest} min" if rest else f"{whole} h"
    return f"{hours / 24:.1f} days"


@register.simple_tag
def sort_query(current: str, key: str, query: str) -> str:
    """The query string that sorts by `key`, or flips the order when it is sorted by it."""
    first = key if key in ASCENDING_FIRST else f"-{key}"
    if current.lstrip("-") == key:
        first = key if current.startswith("-") else f"-{key}"
    return f"{query}&sort={first}" if query else f"sort={first}"


@register.simple_tag
def sort_mark(current: str, key: str) -> str:
    if current.lstrip("-") != key:
        return ""
    return " ▼" if current.startswith("-") else " ▲"


@register.simple_tag
def aria_sort(current: str, key: str) -> str:
    if current.lstrip("-") != key:
        return "none"
    return "descending" if current.startswith("-") else "ascending"


register.filter("ago", ago)  # the dashboard loads it from here
