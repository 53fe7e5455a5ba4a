"""Regular expressions for Replace, compiled only when they cannot backtrack for long.

Python's `re` has no timeout, so a pattern is refused when a repeat holds another repeat or
an alternation (the catastrophic shapes), or uses a back-reference; and the text it runs on
is bounded by how many repeats the pattern has: `k` repeats backtrack at worst about
n**(k+1) steps, kept under 256**3 (a few hundredths of a second).
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # noqa: PLC2701 - the stdlib's own pattern tree
import re._parser as sre_parse  # noqa: PLC2701

from tenants.mappings.expressions import ExpressionError

MAX_PATTERN = 100
BUDGET = 256**3
REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}
# .NET names a group (?<name>...), Python (?P<name>...); lookbehinds (?<= (?<! stay.
_NET_GROUP = re.compile(r"\(\?<(?![=!])")


def compile_pattern(pattern: str, position: int) -> tuple[re.Pattern, int]:
    """The compiled pattern and the longest text it may run on."""
    if len(pattern) > MAX_PATTERN:
        raise ExpressionError(f"Pattern longer than {MAX_PATTERN} characters", position)
    python = _NET_GROUP.sub("(?P<", pattern)
    try:
        tree = sre_parse.parse(python)
        compiled = re.compile(python)
    except re.error as error:
        raise ExpressionError(f"Bad pattern: {error.msg}", position) from None
    repeats = _repeats(tree, inside=False, position=position)
    return compiled, min(1024, int(round(BUDGET ** (1 / (repeats + 1)))) if repeats else 1024)


def _repeats(items, *, inside: bool, position: int) -> int:
    count = 0
    for op, value in items:
        if op in REPEATS:
            low, high, sub = value
            if high > 1:
                if inside:
                    raise ExpressionError("Pattern repeats a repeat (too slow to run)", position)
                count += 1
            count += _repeats(sub, inside=inside or high > 1, position=position)
        elif op == sre_constants.BRANCH:
            if inside:
                raise ExpressionError("Pattern repeats alternatives (too slow to run)", position)
            count += sum(_repeats(b, inside=inside, position=position) for b in value[1])
        elif op == sre_constants.SUBPATTERN:
            count += _repeats(value[-1], inside=inside, position=position)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            count += _repeats(value[1], inside=inside, position=position)
        elif op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            raise ExpressionError("Pattern back-references are not supported", position)
        elif op == sre_constants.ATOMIC_GROUP:
            count += _repeats(value, inside=inside, position=position)
    return count


def check_length(limit: int, text: str, position: int) -> None:
    if len(text) > limit:
        raise ExpressionError(
            f"Text of {len(text)} characters is too long for this pattern (at most {limit})",
            position,
        )
