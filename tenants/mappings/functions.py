"""The fixed function table of mapping expressions, and the walker that evaluates an AST.

Each function follows Microsoft's "Reference for writing expressions for attribute mappings
in Microsoft Entra ID": the same parameters, in the same order, with the documented
behaviour (Mid and Word count from 1; Switch is (source, defaultValue, key1, value1, ...);
Replace has its documented forms). Values are strings; a condition is "True" or "False".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from tenants.mappings import dates, safe_regex
from tenants.mappings.expressions import (
    Attribute,
    Call,
    Compare,
    ExpressionError,
    Node,
    Number,
    Omitted,
    Text,
)

MAX_OUTPUT = 1024  # characters of any value an expression computes
TRUE, FALSE = "True", "False"
# What NFKD leaves whole: letters that are not a base letter with a mark.
FOLDED = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "đ": "d"}
    | {"Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D", "ı": "i"}
)


@dataclass(frozen=True)
class Function:
    name: str
    least: int
    most: int | None  # None: any number
    run: Callable  # (call, values) -> str; values are the evaluated arguments (None: omitted)
    pairs: bool = False  # after the first two arguments, key/value pairs (Switch)

    def check(self, args: list, position: int) -> None:
        count = len(args)
        if count < self.least or (self.most is not None and count > self.most):
            raise ExpressionError(f"{self.name} {self.wants()}", position)
        if self.pairs and count % 2:
            raise ExpressionError(f"{self.name} needs a value after each key", position)

    def wants(self) -> str:
        if self.most is None:
            return f"needs at least {self.least} argument{'s' if self.least > 1 else ''}"
        if self.least == self.most:
            return f"takes {self.least} argument{'s' if self.least > 1 else ''}"
        return f"takes {self.least} to {self.most} arguments"


def evaluate(node: Node, source: dict[str, str]) -> str:
    """The value of `node` for a person whose attributes are `source`."""
    match node:
        case Attribute(name):
            return _lookup(source, name)
        case Text(value):
            return value
        case Number(value):
            return str(value)
        case Omitted():
            return ""
        case Compare(operator, left, right):
            same = evaluate(left, source) == evaluate(right, source)
            return TRUE if same == (operator == "=") else FALSE
        case Call(name, args):
            function = FUNCTIONS[name.casefold()]
            if name == "IIF":  # only the branch chosen is evaluated
                chosen = args[1] if _true(evaluate(args[0], source)) else args[2]
                return evaluate(chosen, source)
            values = [None if isinstance(a, Omitted) else evaluate(a, source) for a in args]
            result = function.run(node, values)
            if len(result) > MAX_OUTPUT:
                raise ExpressionError(
                    f"{name} makes more than {MAX_OUTPUT} characters", node.position
                )
            return result
    raise TypeError(node)


def _lookup(source: dict[str, str], name: str) -> str:
    if name in source:
        return str(source[name] or "")
    folded = name.casefold()
    return next((str(v or "") for k, v in source.items() if k.casefold() == folded), "")


def _true(value: str) -> bool:
    return value.strip().casefold() == "true"


def _whole(call: Call, values: list, index: int) -> int:
    try:
        return int((values[index] or "").strip())
    except ValueError:
        raise ExpressionError(
            f"{call.name} needs a whole number as argument {index + 1}", call.args[index].position
        ) from None


def _join(call, values):
    return (values[0] or "").join(v for v in values[1:] if v)


def _coalesce(call, values):
    return next((v for v in values if v), "")


def _switch(call, values):
    source = values[0] or ""
    pairs = values[2:]
    for key, value in zip(pairs[::2], pairs[1::2], strict=True):
        if (key or "") == source:
            return value or ""
    return values[1] or ""


def _left(call, values):
    count = _whole(call, values, 1)
    return (values[0] or "") if count < 0 else (values[0] or "")[:count]


def _mid(call, values):
    start, length = _whole(call, values, 1), _whole(call, values, 2)
    if start < 1 or length < 0:
        return ""
    return (values[0] or "")[start - 1 : start - 1 + length]


def _word(call, values):
    text, number, delimiters = values[0] or "", _whole(call, values, 1), values[2] or ""
    if number < 1:
        return ""
    words = [text]
    for delimiter in delimiters:
        words = [piece for word in words for piece in word.split(delimiter)]
    words = [w for w in words if w]
    return words[number - 1] if number <= len(words) else ""


def _normalize(call, values):
    decomposed = unicodedata.normalize("NFKD", (values[0] or "").translate(FOLDED))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _format_date_time(call, values):
    source = values[0] or ""
    if not source:
        return ""
    input_format, output_format = (values[1:] if len(values) == 3 else values[2:])[:2]
    if not input_format or not output_format:
        raise ExpressionError("FormatDateTime needs an input and an output format", call.position)
    when = dates.parse_date(source, input_format, call.args[0].position)
    return dates.format_date(when, output_format)


def _replace(call, values):
    values = values + [None] * (7 - len(values))
    source, old, pattern, group, replacement, by_attribute, template = values
    if not source:
        return source or ""
    if old is not None and replacement is not None:
        return source.replace(old, replacement) if old else source
    if old is not None and template is not None:
        return template.replace(old, source) if old else template
    if pattern is not None and (replacement is not None or by_attribute is not None):
        return _replace_pattern(call, source, pattern, group, replacement or by_attribute or "")
    raise ExpressionError(
        "Replace needs oldValue with replacementValue or template, or regexPattern with "
        "replacementValue",
        call.position,
    )


def _replace_pattern(call, source, pattern, group, replacement) -> str:
    position = call.args[2].position
    compiled, limit = safe_regex.compile_pattern(pattern, position)
    safe_regex.check_length(limit, source, position)
    if group is None:
        return compiled.sub(lambda m: replacement, source)
    if group not in compiled.groupindex:
        raise ExpressionError(f"The pattern has no group '{group}'", call.args[3].position)

    def in_group(match):
        start, end = match.span(group)
        if start < 0:
            return match.group()
        whole = match.start()
        text = match.group()
        return text[: start - whole] + replacement + text[end - whole :]

    return compiled.sub(in_group, source)


def _is_null_or_empty(call, values):
    return TRUE if not values[0] else FALSE


FUNCTIONS: dict[str, Function] = {
    f.name.casefold(): f
    for f in [
        Function("Append", 2, 2, lambda c, v: (v[0] or "") + (v[1] or "")),
        Function("Coalesce", 1, None, _coalesce),
        Function("FormatDateTime", 3, 4, _format_date_time),
        Function("IIF", 3, 3, lambda c, v: ""),  # evaluate() chooses the branch
        Function("IsNullOrEmpty", 1, 1, _is_null_or_empty),
        Function("IsPresent", 1, 1, lambda c, v: FALSE if not v[0] else TRUE),
        Function("Join", 1, None, _join),
        Function("Left", 2, 2, _left),
        Function("Mid", 3, 3, _mid),
        Function("NormalizeDiacritics", 1, 1, _normalize),
        Function("Not", 1, 1, lambda c, v: FALSE if _true(v[0] or "") else TRUE),
        Function("Replace", 3, 7, _replace),
        Function("StripSpaces", 1, 1, lambda c, v: "".join((v[0] or "").split())),
        Function("Switch", 2, None, _switch, pairs=True),
        Function("ToLower", 1, 2, lambda c, v: (v[0] or "").lower()),
        Function("ToUpper", 1, 2, lambda c, v: (v[0] or "").upper()),
        Function("Trim", 1, 1, lambda c, v: (v[0] or "").strip()),
        Function("Word", 3, 3, _word),
    ]
}
