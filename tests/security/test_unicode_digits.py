"""`str.isdigit()` is true of characters `int()` and `float()` refuse: superscripts and
circled numbers ("²", "①", Unicode's No category). A check written `s.isdigit()` then
`int(s)` raised where bad input was to get a clear message: a bulk file's
`delete_after_days` cell of "²" (an error page instead of the row's error), and an outbound
webhook receiver's `Retry-After: ²` (the delivery's attempt crashed instead of being
classified)."""

from __future__ import annotations

import httpx
import pytest

from provisioning.bulk import columns, parse, validate
from provisioning.outbound.sending import classify, retry_after
from tests.provisioning.bulk_support import csv_text

ODD_DIGITS = ["²", "¹⁰", "①", "⁴"]


@pytest.mark.django_db
@pytest.mark.parametrize("days", ODD_DIGITS)
def test_a_superscript_in_delete_after_days_is_the_rows_error(alpha, days):
    header = ["username", "delete_after_days"]
    text = csv_text(header, [[f"pat@{alpha.tenant.primary_domain}", days]])
    parsed = parse.parse(text.encode(), columns.OFFBOARD)
    (row,) = validate.validate(alpha.tenant, parsed).rows
    assert any(f"delete_after_days “{days}” is not a number of days" in e for e in row.errors)


@pytest.mark.parametrize("value", ODD_DIGITS)
def test_a_superscript_retry_after_is_no_retry_after(value):
    assert retry_after(value) is None
    response = httpx.Response(429, headers=[(b"retry-after", value.encode("latin-1", "replace"))])
    answer = classify(response)
    assert not answer.delivered and answer.status_code == 429
