"""The search/filter expression subset, without a server."""

from __future__ import annotations

import pytest

from sandbox.okta.query import QueryError, compile_expression

PEOPLE = [
    {"status": "ACTIVE", "profile.login": "ann@x.com", "profile.department": "Sales", "n": 3},
    {"status": "SUSPENDED", "profile.login": "bob@x.com", "profile.department": "Finance", "n": 5},
    {"status": "ACTIVE", "profile.login": "cy@y.com", "profile.department": None, "n": 7},
]


def select(expression: str) -> list[str]:
    predicate = compile_expression(expression, lambda person, path: person.get(path))
    return [p["profile.login"] for p in PEOPLE if predicate(p)]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('profile.login eq "ANN@x.com"', ["ann@x.com"]),
        ('status eq "ACTIVE"', ["ann@x.com", "cy@y.com"]),
        ('status ne "ACTIVE"', ["bob@x.com"]),
        ('profile.login sw "b"', ["bob@x.com"]),
        ('profile.login ew "y.com"', ["cy@y.com"]),
        ('profile.login co "@x"', ["ann@x.com", "bob@x.com"]),
        ("profile.department pr", ["ann@x.com", "bob@x.com"]),
        ("n gt 3 and n le 7", ["bob@x.com", "cy@y.com"]),
        ('status eq "SUSPENDED" or profile.department eq "Sales"', ["ann@x.com", "bob@x.com"]),
        ('not (status eq "ACTIVE")', ["bob@x.com"]),
        ('status eq "ACTIVE" and (n lt 4 or n gt 6)', ["ann@x.com", "cy@y.com"]),
        (r'profile.login eq "a\"b"', []),
    ],
)
def test_expressions_select_what_okta_would(expression, expected):
    assert select(expression) == expected


@pytest.mark.parametrize(
    "expression", ["", "status", "status eq", 'status is "A"', '(status eq "A"', 'status eq "A" x']
)
def test_malformed_expressions_are_rejected(expression):
    with pytest.raises(QueryError):
        select(expression)
