"""One account per username as a person reads it: "ａｄｍｉｎ" (fullwidth), "ADMIN" and
"admin" are one name. Compared after NFKC and case folding (Unicode's NFKC_Casefold, as
UTS #39 and RFC 8265's usernames do it), stored in NFKC (as Django's own user forms do)."""

from __future__ import annotations

import unicodedata

from django.contrib.auth import get_user_model


def nfkc(name: str) -> str:
    return unicodedata.normalize("NFKC", name)


def folded(name: str) -> str:
    """The name as compared: NFKC, case-folded, NFKC again (folding can undo NFKC)."""
    return nfkc(nfkc(name).casefold())


def holder_of(name: str, *, other_than: int | None = None):
    """The account whose username reads as `name` (the one spelled exactly so first), or
    None. Every username is compared, as no database collation folds the way Unicode does;
    the staff table is small."""
    users = get_user_model().objects.exclude(pk=other_than)
    exact = users.filter(username=name).first()
    if exact is not None:
        return exact
    wanted = folded(name)
    for pk, username in users.values_list("pk", "username").iterator():
        if folded(username) == wanted:
            return users.get(pk=pk)
    return None
