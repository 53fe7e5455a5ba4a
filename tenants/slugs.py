"""Which tenant slugs are reserved, and how a free one is picked.

A tenant's slug sits in URLs (``/tenants/<slug>/``) and in filters (``?tenant=<slug>``), so a
slug that is also a word of the URLconf ("new" in ``/tenants/new/``) or a special value of a
filter ("global", "all") would shadow a page or be taken for that value. The reserved words
are read from the URLconf at run time, so a page added later reserves its words too.

Existing tenants were renamed by migration 0006, which keeps a frozen copy of this list.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.text import slugify

MAX_LENGTH = 60
# Values that mean something other than one tenant wherever a tenant is chosen, besides the
# URLconf's own words (static files are served outside the URLconf, so they are listed too).
SPECIAL = frozenset(
    {
        "all",
        "any",
        "default",
        "everyone",
        "global",
        "me",
        "msp",
        "msp-wide",
        "none",
        "null",
        "self",
        "static",
        "media",
        "system",
        "undefined",
        "webhook",
    }
)
_CONVERTER = re.compile(r"<[^>]*>")  # <slug:tenant> in a route
_REGEX_NOISE = re.compile(r"\(\?P<\w+>|\\.")  # (?P<name> and escapes such as \d in a regex
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def reserved_slugs() -> frozenset[str]:
    """Every slug no tenant may take: the URLconf's literal words plus the special values."""
    return _reserved(settings.ROOT_URLCONF)


@functools.cache
def _reserved(urlconf: str) -> frozenset[str]:
    words = set(url_words(get_resolver(urlconf).url_patterns))
    for prefix in (settings.STATIC_URL, getattr(settings, "MEDIA_URL", "")):
        words.update(_WORD.findall(str(prefix or "")))
    return frozenset(word.lower() for word in words) | SPECIAL


@receiver(setting_changed)
def _forget_reserved(setting: str, **kwargs) -> None:
    if setting in ("ROOT_URLCONF", "STATIC_URL", "MEDIA_URL"):
        _reserved.cache_clear()


def url_words(patterns: Iterable[URLPattern | URLResolver]) -> set[str]:
    """The literal words of every route and regex below ``patterns``, converters left out:
    "audit/export.csv" gives "audit", "export" and "csv"."""
    words: set[str] = set()
    for entry in patterns:
        words.update(_pattern_words(str(entry.pattern)))
        if isinstance(entry, URLResolver):
            words.update(url_words(entry.url_patterns))
    return words


def _pattern_words(pattern: str) -> list[str]:
    text = _CONVERTER.sub(" ", _REGEX_NOISE.sub(" ", pattern))
    return _WORD.findall(text)


def is_reserved(slug: str) -> bool:
    return slug.lower() in reserved_slugs()


def require_unreserved(slug: str) -> None:
    """ValidationError when ``slug`` is reserved, with a message a person can act on."""
    if is_reserved(slug):
        raise ValidationError(
            f"“{slug}” is reserved: the portal uses it in its own addresses. Choose another.",
            code="reserved",
        )


def free_slug(base: str, taken: Callable[[str], bool]) -> str:
    """``base`` if no tenant has it and it is not reserved, else ``base-2``, ``base-3``, ...

    Cut to fit the slug field with its suffix; "" when ``base`` is "".
    """
    base = slugify(base)[:MAX_LENGTH].strip("-")
    if not base:
        return ""
    n = 1
    while True:
        suffix = "" if n == 1 else f"-{n}"
        candidate = base[: MAX_LENGTH - len(suffix)].rstrip("-") + suffix
        if not is_reserved(candidate) and not taken(candidate):
            return candidate
        n += 1
