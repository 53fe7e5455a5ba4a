"""Usernames and UPNs from a naming rule such as `{first}.{last}@{domain}`.

Names are lower-cased and folded to ASCII (José Müller -> jose.muller); a collision gets a
numeric suffix on the local part: jose.muller2@..., jose.muller3@...
"""

import re
import string
import unicodedata
from collections.abc import Callable
from itertools import chain

PLACEHOLDERS = {
    "first": "first name",
    "last": "last name",
    "f": "first initial",
    "l": "last initial",
    "domain": "the role's domain",
}

# Letters that Unicode decomposition does not reduce to ASCII.
_SPECIAL_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th", "ı": "i"}
)
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]")
MAX_COLLISION_SUFFIX = 999


class NamingRuleError(ValueError):
    pass


def fold(name: str) -> str:
    """Lower-case ASCII with only letters, digits, dot, dash and underscore."""
    lowered = name.strip().lower().translate(_SPECIAL_LETTERS)
    decomposed = unicodedata.normalize("NFKD", lowered)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_ALLOWED.sub("", ascii_only)


def full_name(first: str, last: str) -> str:
    """A name as compared for "the same person": case and spacing do not count."""
    return " ".join(f"{first} {last}".split()).casefold()


def rule_placeholders(rule: str) -> list[str]:
    """The placeholders a rule uses; raises NamingRuleError for unknown ones or bad braces."""
    try:
        parsed = list(string.Formatter().parse(rule))
    except ValueError as exc:
        raise NamingRuleError(f"The rule has unbalanced braces: {exc}.") from None
    names = [field for _, field, spec, conv in parsed if field is not None]
    for _, field, spec, conv in parsed:
        if field is None:
            continue
        if field not in PLACEHOLDERS or spec or conv:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise NamingRuleError(f"Unknown placeholder {{{field}}}. Use {known}.")
    return names


def validate_rule(rule: str) -> None:
    names = rule_placeholders(rule)
    if rule.count("@") != 1 or not rule.endswith("@{domain}"):
        raise NamingRuleError("The rule must end with @{domain}, e.g. {first}.{last}@{domain}.")
    if not {"first", "last", "f", "l"} & set(names):
        raise NamingRuleError("The rule must use the person's name: {first}, {last}, {f} or {l}.")


def render(rule: str, first: str, last: str, domain: str) -> str:
    first_f, last_f = fold(first), fold(last)
    local = rule.split("@", 1)[0].format(
        first=first_f, last=last_f, f=first_f[:1], l=last_f[:1], domain=""
    )
    local = re.sub(r"\.{2,}", ".", local).strip(".-_")
    if not local:
        raise NamingRuleError("The name gives an empty username under this rule.")
    return f"{local}@{domain.lower()}"


def unique_username(
    rule: str,
    first: str,
    last: str,
    domain: str,
    is_taken: Callable[[str], bool],
    *,
    longest_local: int | None = None,
) -> str:
    """The first username the rule gives that `is_taken` does not claim. A suffixed one keeps
    within `longest_local` characters before the @ by shortening the name in front of its
    number (the rule's own first choice is left whole: the callers refuse one too long)."""
    first_choice = render(rule, first, last, domain)
    local, at_domain = first_choice.split("@", 1)
    suffixed = (
        f"{_fitted(local, str(n), longest_local)}@{at_domain}"
        for n in range(2, MAX_COLLISION_SUFFIX + 1)
    )
    for candidate in chain([first_choice], suffixed):  # lazily: most names are free
        if not is_taken(candidate):
            return candidate
    raise NamingRuleError(
        f"Every username from {local}@ to {local}{MAX_COLLISION_SUFFIX}@ is taken."
    )


def _fitted(local: str, suffix: str, longest: int | None) -> str:
    if longest is None or len(local) + len(suffix) <= longest:
        return local + suffix
    return local[: longest - len(suffix)].rstrip(".-_") + suffix
