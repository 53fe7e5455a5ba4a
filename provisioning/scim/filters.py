"""A SCIM filter (RFC 7644 §3.4.2.2) as a database query. scim2-models parses it (the ABNF,
Entra's `emails[type eq "work"].value eq "…"`, and the bounds: nesting depth); this module
maps each attribute to the column that holds it, so the whole filter runs in the database,
paged and counted there. Supported: `and`, `or`, `not (…)`, parentheses, `pr` and every
comparison operator on the attributes listed here, and a valuePath on `emails`. Anything
else is InvalidFilterException whose detail names the part and what can be filtered."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IContains,
    IEndsWith,
    IExact,
    IsNull,
    IStartsWith,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.utils.dateparse import parse_datetime
from scim2_models import (
    InvalidFilterException,
    InvalidPathException,
    InvalidValueException,
    ScimFilter,
)
from scim2_models.path.expressions import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from provisioning.models import Identity
from provisioning.scim.resources import user_id_q

MAX_FILTER_LENGTH = 1000
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:user"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:group"
_ORDERING = {
    CompareOperator.gt: GreaterThan,
    CompareOperator.ge: GreaterThanOrEqual,
    CompareOperator.lt: LessThan,
    CompareOperator.le: LessThanOrEqual,
}
_IGNORING_CASE = {
    CompareOperator.eq: IExact,
    CompareOperator.co: IContains,
    CompareOperator.sw: IStartsWith,
    CompareOperator.ew: IEndsWith,
}
ALL = Q(pk__isnull=False)  # an explicit "every row": ~Q() would not be "none"
NONE = Q(pk__in=[])
_STRING = {
    CompareOperator.eq: Exact,
    CompareOperator.co: Contains,
    CompareOperator.sw: StartsWith,
    CompareOperator.ew: EndsWith,
    **_ORDERING,
}


@dataclass(frozen=True)
class Text:
    """A string attribute held in a column or a JSON key ("" when absent); `case_exact` as
    RFC 7643 §4.1.1 declares it: otherwise compared as the database's i-lookups do."""

    name: str
    column: str
    case_exact: bool = False

    def expression(self):
        if "__" in self.column:
            return Coalesce(KT(self.column), Value(""), output_field=CharField())
        return F(self.column)

    def present(self) -> Q:
        return ~Q(Exact(self.expression(), ""))

    def sort_key(self):
        """(the value to order by, the query of rows without one)."""
        key = self.expression() if self.case_exact else Lower(self.expression())
        return key, Q(Exact(self.expression(), ""))

    def compare(self, op: CompareOperator, value) -> Q:
        if not isinstance(value, str):
            raise _refused(f"{self.name} {op.value} {value!r}: {self.name} is a string")
        if "\x00" in value:  # no text the portal holds has one, and PostgreSQL refuses it
            raise _refused(f"{self.name} {op.value}: a value with a NUL character")
        if op == CompareOperator.ne:
            return ~self.compare(CompareOperator.eq, value)
        if self.case_exact:
            return Q(_STRING[op](self.expression(), value))
        if op in _ORDERING:  # both sides lower-cased by the database, so alike
            return Q(_ORDERING[op](Lower(self.expression()), Lower(Value(value))))
        return Q(_IGNORING_CASE[op](self.expression(), value))


@dataclass(frozen=True)
class Id:
    """`id` (RFC 7643 §3.1): the primary key as an opaque, case-exact string, compared whole;
    a value that is no key of ours is no resource."""

    name: str = "id"

    def present(self) -> Q:
        return ALL

    def compare(self, op: CompareOperator, value) -> Q:
        if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, str):
            raise _refused(f"{self.name} {op.value} {value!r}: an id takes eq or ne a string")
        same = self.same(value)
        return same if op == CompareOperator.eq else ~same

    def same(self, value: str) -> Q:
        is_key = value.isascii() and value.isdigit() and len(value) < 19
        return Q(pk=int(value)) if is_key else NONE

    def sort_key(self):
        return Cast("pk", CharField()), None  # a string, caseExact


@dataclass(frozen=True)
class UserId(Id):
    """A user's `id`: the person's current SCIM id, which changes when a client creates them
    again after a delete (`resources.user_id`); a deleted resource's id matches nobody."""

    def same(self, value: str) -> Q:
        return user_id_q(value) or NONE


@dataclass(frozen=True)
class Moment:
    """A dateTime attribute (RFC 7643 §2.3.5), compared in time; `before`, a column that
    holds the time instead when it has one (a re-created user's `meta.created`)."""

    name: str
    column: str
    before: str = ""

    def expression(self):
        if self.before:
            return Coalesce(F(self.before), F(self.column))
        return F(self.column)

    def present(self) -> Q:
        return ~Q(IsNull(self.expression(), True))

    def sort_key(self):
        return self.expression(), None

    def compare(self, op: CompareOperator, value) -> Q:
        try:  # in UTC here: a time at the ends of the calendar cannot be converted
            when = parse_datetime(value) if isinstance(value, str) else None
            if when is not None:
                when = when.replace(tzinfo=when.tzinfo or dt.UTC).astimezone(dt.UTC)
        except (ValueError, OverflowError):
            when = None
        if when is None:
            raise _refused(
                f"{self.name} {op.value} {value!r}: a dateTime such as "
                '"2026-01-31T09:00:00Z" is needed'
            )
        if op == CompareOperator.ne:
            return ~Q(Exact(self.expression(), when))
        if op == CompareOperator.eq:
            return Q(Exact(self.expression(), when))
        if op in _ORDERING:
            return Q(_ORDERING[op](self.expression(), when))
        raise _refused(f"{self.name} {op.value}: a dateTime takes eq ne gt ge lt le")


@dataclass(frozen=True)
class Active:
    """`active`: a joiner or an active person (what the endpoint answers)."""

    name: str = "active"

    def present(self) -> Q:
        return ALL

    def compare(self, op: CompareOperator, value) -> Q:
        if op not in (CompareOperator.eq, CompareOperator.ne) or not isinstance(value, bool):
            raise _refused(f"{self.name} {op.value} {value!r}: a boolean takes eq or ne true/false")
        active = self.active()
        return active if value == (op == CompareOperator.eq) else ~active

    def active(self) -> Q:
        return Q(status__in=(Identity.Status.JOINER, Identity.Status.ACTIVE))

    def sort_key(self):  # false before true
        return Case(When(self.active(), then=Value(1)), default=Value(0)), None


@dataclass(frozen=True)
class Constant:
    """A sub-attribute every value of its attribute has, the same for all: the one e-mail
    the portal keeps is answered as `type` "work", `primary` true."""

    name: str
    value: object

    def present(self) -> Q:
        return ALL

    def sort_key(self):  # the same for every row: the id order stands
        return None, None

    def compare(self, op: CompareOperator, value) -> Q:
        if type(value) is not type(self.value):
            raise _refused(f"{self.name} {op.value} {value!r}: {self.name} is {self.value!r}")
        if isinstance(value, str):
            mine, value = self.value.lower(), value.lower()
        else:
            mine = self.value
        if op in _ORDERING and isinstance(value, bool):
            raise _refused(f"{self.name} {op.value}: a boolean takes eq or ne")
        holds = {
            CompareOperator.eq: lambda: mine == value,
            CompareOperator.ne: lambda: mine != value,
            CompareOperator.co: lambda: value in mine,
            CompareOperator.sw: lambda: mine.startswith(value),
            CompareOperator.ew: lambda: mine.endswith(value),
            CompareOperator.gt: lambda: mine > value,
            CompareOperator.ge: lambda: mine >= value,
            CompareOperator.lt: lambda: mine < value,
            CompareOperator.le: lambda: mine <= value,
        }[op]()
        return ALL if holds else NONE


@dataclass(frozen=True)
class MultiValued:
    """A multi-valued complex attribute the portal holds at most one value of: a filter on
    it (a valuePath, or `emails.value`, or `emails` alone, which means its `value`) matches
    the person whose one value matches."""

    name: str
    guard: Text  # the column that holds the value; "" is no value
    subs: dict  # casefolded sub-attribute name -> Text | Constant


@dataclass(frozen=True)
class Schema:
    """The filterable attributes of a resource type, by (schema URN, attribute, sub-attribute),
    all casefolded (RFC 7644 §3.4.2.2: names are case-insensitive)."""

    urns: tuple[str, ...]  # the URNs an attribute may be qualified with; the first the core
    attributes: dict
    complex: dict  # casefolded name -> MultiValued
    names: str  # what the detail says can be filtered on


EMAIL = Text("emails.value", "email")
USER = Schema(
    urns=(USER_URN, ENTERPRISE_URN),
    attributes={
        (USER_URN, "id", None): UserId(),
        (USER_URN, "username", None): Text("userName", "username"),
        (USER_URN, "externalid", None): Text("externalId", "external_id", case_exact=True),
        (USER_URN, "displayname", None): Text("displayName", "display_name"),
        (USER_URN, "name", "givenname"): Text("name.givenName", "first_name"),
        (USER_URN, "name", "familyname"): Text("name.familyName", "last_name"),
        (USER_URN, "title", None): Text("title", "attributes__job_title"),
        (USER_URN, "active", None): Active(),
        (USER_URN, "meta", "created"): Moment(
            "meta.created", "created_at", before="scim__recreated_at"
        ),
        (USER_URN, "meta", "lastmodified"): Moment("meta.lastModified", "updated_at"),
        (ENTERPRISE_URN, "department", None): Text("department", "attributes__department"),
        (ENTERPRISE_URN, "organization", None): Text("organization", "attributes__company"),
        (ENTERPRISE_URN, "employeenumber", None): Text("employeeNumber", "employee_id"),
    },
    complex={
        "emails": MultiValued(
            "emails",
            EMAIL,
            {
                "value": EMAIL,
                "type": Constant("emails.type", "work"),
                "primary": Constant("emails.primary", True),
            },
        )
    },
    names="id, userName, externalId, displayName, name.givenName, name.familyName, title, "
    "active, emails (value, type, primary), meta.created, meta.lastModified, and the "
    "enterprise department, organization and employeeNumber",
)
GROUP = Schema(
    urns=(GROUP_URN,),
    attributes={
        (GROUP_URN, "id", None): Id(),
        (GROUP_URN, "displayname", None): Text("displayName", "name"),
    },
    complex={},
    names="id, displayName",
)


def _refused(part: str, schema: Schema | None = None) -> InvalidFilterException:
    more = f" Filters here can use {schema.names}." if schema else ""
    return InvalidFilterException(detail=f"Not supported in a filter here: {part}.{more}")


# A string (RFC 8259 §7, escapes included), or a literal name after an operator.
_STRING_OR_LITERAL = re.compile(
    r'"(?:[^"\\]|\\.)*"|\b(?:eq|ne|co|sw|ew|gt|ge|lt|le)\s+(true|false|null)\b', re.I
)


def _check_literals(text: str) -> None:
    """compValue's `false / null / true` are JSON's (RFC 7644 §3.4.2.2, Figure 1), whose
    "literal names MUST be lowercase" (RFC 7159 §3); scim2-models reads them in any case."""
    for match in _STRING_OR_LITERAL.finditer(text):
        literal = match.group(1)
        if literal and literal != literal.lower():
            raise InvalidFilterException(
                detail=f"The filter cannot be read: {literal} is no value; JSON's literals "
                "are lowercase: true, false, null."
            )


def filter_q(text: str, schema: Schema) -> Q:
    """The filter as a query, or InvalidFilterException (the detail names what is wrong)."""
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidFilterException(detail="The filter is too long.")
    _check_literals(text)
    try:
        node = ScimFilter(text).ast
    except (InvalidFilterException, ValueError) as exc:
        raise InvalidFilterException(detail=f"The filter cannot be read: {exc}") from None
    return _Translator(schema).q(node)


SORT_ORDERS = ("ascending", "descending")


def order_of(sort_by: str, sort_order: str | None, schema: Schema) -> list:
    """RFC 7644 §3.4.2.3: the rows ordered by the value of `sort_by` (an attribute a filter
    here takes: a multi-valued one by its value, `emails` as `emails.value`), ascending
    unless `sort_order` says "descending"; a string that is not caseExact without regard to
    case; rows without a value last ascending, first descending; ties in id order. Text is in
    the database's order: by code point ("no specific locale implied") on SQLite and on a
    PostgreSQL database made with C.UTF-8 (docs/scim.md). An attribute that cannot order is
    invalidPath, as scim2-models refuses it in a SearchRequest; an unknown order invalidValue
    (§3.12)."""
    order = (sort_order or "ascending").lower()
    if order not in SORT_ORDERS:
        raise InvalidValueException(
            detail=f"sortOrder is ascending or descending, not {sort_order[:32]!r}."
        )
    attribute = _sorted_attribute(sort_by, schema)
    key, missing = attribute.sort_key()
    descending = order == "descending"
    ordering = [F("pk").asc()]
    if key is not None:  # none: a constant, which PostgreSQL reads as a column's position
        ordering.insert(0, key.desc() if descending else key.asc())
    if missing is not None:
        absent = Case(When(missing, then=Value(1)), default=Value(0))
        ordering.insert(0, absent.desc() if descending else absent.asc())
    return ordering


def _sorted_attribute(sort_by: str, schema: Schema):
    refused = InvalidPathException(
        detail=f"Cannot sort on {sort_by[:64]!r}: sortBy takes one of {schema.names}."
    )
    try:  # an attribute path is what a presence test holds: parsed by the filter grammar
        node = ScimFilter(f"{sort_by} pr").ast
    except (InvalidFilterException, ValueError):
        raise refused from None
    if not isinstance(node, Present):
        raise refused
    try:
        attribute, _ = _Translator(schema).attribute(node.attr_path)
    except InvalidFilterException:
        raise refused from None
    return attribute


class _Translator:
    def __init__(self, schema: Schema):
        self.schema = schema

    def q(self, node: FilterNode, within: MultiValued | None = None) -> Q:
        """The node as a query; `within` the attribute of the valuePath it is inside."""
        if isinstance(node, LogicalExpr):
            query = ALL if node.op == LogicalOperator.and_ else NONE
            for term in node.terms:
                part = self.q(term, within)
                query = query & part if node.op == LogicalOperator.and_ else query | part
            return query
        if isinstance(node, Not):
            return ~self.q(node.expr, within)
        if isinstance(node, ValuePath):
            return self._value_path(node)
        if isinstance(node, Present | Comparison):
            attribute, guard = self._attribute(node.attr_path, within)
            if isinstance(node, Present):
                query = attribute.present()
            else:
                query = attribute.compare(node.op, node.value)
            return guard & query
        raise _refused(str(node), self.schema)

    def _value_path(self, node: ValuePath) -> Q:
        path = node.attr_path
        complex_ = self._complex(path)
        if complex_ is None or path.sub_attr or node.sub_attr:
            raise _refused(f"{path}[…]: a value selection on {path}", self.schema)
        return complex_.guard.present() & self.q(node.val_filter, within=complex_)

    def _complex(self, path: AttrPath) -> MultiValued | None:
        if (path.uri or self.schema.urns[0]).casefold() != self.schema.urns[0]:
            return None
        return self.schema.complex.get(path.attr.casefold())

    def attribute(self, path: AttrPath):
        """The attribute a path outside brackets names, with the query its value is under."""
        return self._attribute(path, None)

    def _attribute(self, path: AttrPath, within: MultiValued | None):
        """(the attribute, the query its value must exist under) for a path."""
        if within is not None:  # inside brackets: a sub-attribute of `within`
            sub = within.subs.get(path.attr.casefold())
            if sub is None or path.uri or path.sub_attr:
                raise _refused(f"{within.name}[{path} …]", self.schema)
            return sub, ALL
        uri = (path.uri or self.schema.urns[0]).casefold()
        if uri not in self.schema.urns:
            raise _refused(f"{path} (schema {path.uri})", self.schema)
        complex_ = self._complex(path)
        if complex_ is not None:  # `emails.type`, or `emails` alone (its value)
            sub = complex_.subs.get((path.sub_attr or "value").casefold())
            if sub is None:
                raise _refused(str(path), self.schema)
            return sub, complex_.guard.present()
        sub = path.sub_attr.casefold() if path.sub_attr else None
        attribute = self.schema.attributes.get((uri, path.attr.casefold(), sub))
        if attribute is None:
            raise _refused(str(path), self.schema)
        return attribute, ALL
