"""A tenant's mappings: its rows over the defaults, evaluated on a person's attributes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache

from tenants.mappings import expressions
from tenants.mappings.defaults import INBOUND, KINDS, TARGET_KEYS, TargetKind, kind_of
from tenants.mappings.expressions import ExpressionError, Node
from tenants.mappings.functions import evaluate
from tenants.models import AttributeMapping, DirectoryConnection, Tenant


@lru_cache(maxsize=512)
def parse(text: str) -> Node:
    """The AST of `text` (immutable, so parsed once per process), or ExpressionError."""
    return expressions.parse(text)


def validate(text: str, target: str) -> Node:
    """`text` parsed, with every attribute it reads one the target's sources have."""
    node = parse(text)
    known = {name.casefold(): name for name in kind_of(target).sources}
    for attribute in expressions.attributes_of(node):
        if attribute.name.casefold() not in known:
            close = difflib.get_close_matches(attribute.name.casefold(), list(known), n=1)
            hint = f"did you mean [{known[close[0]]}]?" if close else ""
            raise ExpressionError(f"Unknown attribute [{attribute.name}]", attribute.position, hint)
    return node


def evaluate_text(text: str, source: dict[str, str]) -> str:
    return evaluate(parse(text), source)


@dataclass(frozen=True)
class Target:
    key: str
    label: str
    kind: TargetKind
    connection_id: int | None = None


def target_key_for(connection) -> str:
    template = TARGET_KEYS.get(connection.kind, connection.kind)
    return template.format(pk=connection.pk)


def targets(tenant: Tenant) -> list[Target]:
    found = []
    for connection in DirectoryConnection.objects.filter(tenant=tenant).order_by("kind", "pk"):
        key = target_key_for(connection)
        kind = KINDS.get(key.split(":", 1)[0])
        if kind is not None:
            name = getattr(connection, "name", "") or connection.get_kind_display()
            found.append(Target(key, name, kind, connection.pk))
    return [*found, Target(INBOUND, KINDS[INBOUND].label, KINDS[INBOUND])]


def attributes_of(target: str) -> tuple[str, ...]:
    """Our names of the attributes `target` holds, in its order."""
    return tuple(kind_of(target).attributes)


def overrides_for(tenant: Tenant | int, target: str) -> dict[str, str]:
    """The tenant's own rows for `target` (attribute -> expression), in one query."""
    rows = AttributeMapping.objects.filter(tenant=tenant, target=target)
    return dict(rows.values_list("attribute", "expression"))


def expressions_for(target: str, overrides: dict[str, str]) -> dict[str, str]:
    """Every attribute's expression for `target`: the overrides over the defaults."""
    kind = kind_of(target)
    merged = kind.defaults | overrides
    return {name: merged[name] for name in kind.attributes if merged.get(name)}


def apply(
    tenant: Tenant | int,
    target: str,
    source: dict[str, str],
    overrides: dict[str, str] | None = None,
) -> dict[str, str]:
    """The target's attributes for `source`; `overrides`: the rows, when already read."""
    rows = overrides_for(tenant, target) if overrides is None else overrides
    values = {}
    for name, text in expressions_for(target, rows).items():
        try:
            values[name] = evaluate_text(text, source)
        except ExpressionError:
            continue  # saved expressions parse; a value they cannot take is left out
    return values


@dataclass(frozen=True)
class Row:
    """One target attribute, as a mappings page shows it."""

    attribute: str
    label: str  # the target's own name
    expression: str
    default: str
    overridden: bool
    value: str | None = None  # with a source: what it maps to
    error: ExpressionError | None = None


def rows_for(
    target: str,
    overrides: dict[str, str],
    source: dict[str, str] | None = None,
    edited: tuple[str, str] | None = None,
) -> list[Row]:
    """Every attribute of `target` with its expression (`edited`: (attribute, text) standing
    in for the saved one), and with a `source` its value or the error that stops it."""
    kind = kind_of(target)
    expressions = dict(overrides)
    if edited:
        expressions[edited[0]] = edited[1]
    rows = []
    for name, label in kind.attributes.items():
        default = kind.defaults.get(name, "")
        text = expressions.get(name, default)
        value, error = None, None
        if source is not None and text:
            try:
                value = evaluate(validate(text, target), source)
            except ExpressionError as exc:
                error = exc
        rows.append(Row(name, label, text, default, name in expressions, value, error))
    return rows
