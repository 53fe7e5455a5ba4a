"""`$expand` on directory objects as Graph takes it: one navigation property of the type,
whose related objects come inline, at most 20 of them and without a next link.

- A name that is no property of the type: 400 BadRequest "Could not find a property named
  '<p>' on type 'microsoft.graph.<type>'." (microsoftgraph/microsoft-graph-docs#3957).
- A structural property: 400 with OData's "... is not a navigation property or complex
  property. Only navigation properties can be expanded." (the OData library's text; Graph's
  own wording is not published).
- A relationship the schema marks `expandable: false` (a user's photo, events, messages ...):
  400 ExpandNotSupported "Expand is not allowed for property '<p>' according to the entity
  schema." (concepts/query-parameters.md, "Error handling for query parameters";
  resources/user.md and group.md, the capability annotations).
- Two names: 400 "The result of parsing $expand contained at least 2 items, but the maximum
  allowed is 1." ("Only one relationship can be expanded in a single request",
  concepts/query-parameters.md; microsoftgraph/microsoft-graph-docs-contrib#8352).
- With the advanced query parameters: 400 ("$expand is not currently supported with advanced
  queries", concepts/aad-advanced-queries.md; the error's text is not published).
- The expanded collection holds at most 20 objects and has no next link; a page of objects
  with an expansion holds at most 100 (concepts/known-issues.md, "Some limitations apply to
  query parameters"; microsoftgraph/microsoft-graph-docs#21506).

A relationship Graph expands that the sandbox does not model, and options nested inside the
expansion (`manager($select=id)`), are refused with 501 rather than ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.entra.errors import GraphError, bad_request

EXPANDED_MAX = 20
EXPANDED_PAGE = 100


@dataclass(frozen=True)
class Navigations:
    """A type's relationships as its resource page lists them."""

    type_name: str  # e.g. microsoft.graph.user
    relationships: frozenset[str]  # every relationship of the type
    not_expandable: frozenset[str]  # annotated `expandable: false`
    modelled: frozenset[str]  # those the sandbox expands


def navigations(type_name: str, relationships: str, not_expandable: str, modelled: str):
    return Navigations(
        type_name,
        frozenset(relationships.split()),
        frozenset(not_expandable.split()),
        frozenset(modelled.split()),
    )


def not_modelled(text: str) -> GraphError:
    return GraphError(501, "NotImplemented", f"The sandbox does not model $expand={text}.")


def expanded(
    query: dict[str, str], nav: Navigations, properties: frozenset[str], advanced: bool
) -> str | None:
    """The relationship `$expand` names (as the type spells it), or None without one; 400 or
    501 as the module says. `properties`: the type's structural properties, lower case."""
    raw = query.get("$expand")
    if raw is None:
        return None
    if advanced:
        raise bad_request(
            "$expand is not currently supported with advanced queries.",
            code="Request_UnsupportedQuery",
        )
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if len(names) > 1:
        raise bad_request(
            "The result of parsing $expand contained at least 2 items, but the "
            "maximum allowed is 1.",
            code="BadRequest",
        )
    if not names:
        return None
    text = names[0]
    name = text.partition("(")[0].strip()
    by_lower = {r.lower(): r for r in nav.relationships}
    real = by_lower.get(name.lower())
    if real is None:
        if name.lower() in properties:
            raise bad_request(
                f"Property '{name}' on type '{nav.type_name}' is not a navigation property or "
                "complex property. Only navigation properties can be expanded.",
                code="BadRequest",
            )
        raise bad_request(
            f"Could not find a property named '{name}' on type '{nav.type_name}'.",
            code="BadRequest",
        )
    if real in nav.not_expandable:
        raise bad_request(
            f"Expand is not allowed for property '{real}' according to the entity schema.",
            code="ExpandNotSupported",
        )
    if real not in nav.modelled or "(" in text:
        raise not_modelled(text)
    return real
