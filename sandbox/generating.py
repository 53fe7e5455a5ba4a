"""What both generators of big directories (Entra, Okta) accept in their request body."""

from __future__ import annotations

import unicodedata


def share(body: dict, key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{key} must be a number between 0 and 1")
    return float(value)


def count(body: dict, key: str, default: int, maximum: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValueError(f"{key} must be a whole number from 0 to {maximum}")
    return value


def plain(name: str) -> str:
    """A name as it goes into a generated username: ASCII letters and digits, lower case."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())
