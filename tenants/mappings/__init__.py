"""Attribute mappings: per tenant and per target, target attribute <- expression.

The public API (the engine and the inbound SCIM service use only these):

- `parse(text)` -> the expression's AST, or `ExpressionError(message, position)`.
- `apply(tenant, target, source)` -> {attribute: value}: the tenant's rows for `target`,
  else the defaults (today's fixed lists), evaluated on `source` (attribute -> string). An
  attribute whose expression yields "" maps to "", which callers treat as today's empty
  value; one that fails to evaluate is left out.
- `target_key_for(connection)` -> "entra", "okta" or f"scim:{pk}".
- `targets(tenant)` -> the tenant's targets: its connections, then inbound SCIM.
"""

from tenants.mappings.expressions import ExpressionError
from tenants.mappings.mapping import (
    Target,
    apply,
    attributes_of,
    evaluate_text,
    expressions_for,
    overrides_for,
    parse,
    rows_for,
    target_key_for,
    targets,
    validate,
)

__all__ = [
    "ExpressionError",
    "Target",
    "apply",
    "attributes_of",
    "evaluate_text",
    "expressions_for",
    "overrides_for",
    "parse",
    "rows_for",
    "target_key_for",
    "targets",
    "validate",
]
