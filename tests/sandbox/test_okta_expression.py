"""The Okta Expression Language subset of group rules, without a server."""

from __future__ import annotations

import pytest

from sandbox.okta.expression import ExpressionError, compile_rule

PROFILE = {"department": "Sales", "title": "Sales Manager", "countryCode": "DE"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('user.department=="Sales"', True),
        ('user.department == "sales"', False),  # case-sensitive, as in Okta
        ("user.department=='Sales'", True),
        ('user.department!="Sales"', False),
        ('user.missing=="x"', False),
        ('user.department=="Sales" AND user.countryCode=="DE"', True),
        ('user.department=="Legal" || user.countryCode=="DE"', True),
        ('!(user.countryCode=="US")', True),
        ('String.stringContains(user.title, "Manager")', True),
        ('String.startsWith(user.title, "Manager")', False),
        ('String.endsWith(user.title, "Manager")', True),
        ('String.toLowerCase(user.department)=="sales"', True),
        ('String.stringContains(user.missing, "x")', False),
    ],
)
def test_expressions(expression, expected):
    assert compile_rule(expression)(PROFILE) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "",
        'user.department="Sales"',
        'department=="Sales"',
        "String.startsWith(user.title)",
        'user.department=="Sales',
        '(user.department=="Sales"',
        'user.a.b=="x"',
    ],
)
def test_invalid_expressions(expression):
    with pytest.raises(ExpressionError):
        compile_rule(expression)
