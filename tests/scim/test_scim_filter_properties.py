"""The filter grammar of the SCIM endpoint, property-based (hypothesis, no database): any text
is either a query or a 400 invalidFilter, never another exception (a 500); every operator on
userName / externalId, joined by `and` or `or`, is taken in any case of attribute name,
operator and joiner (RFC 7644 §3.4.2.2), and an attribute the endpoint does not filter on is
an invalidFilter that names it."""

from __future__ import annotations

from django.db.models import Q
from hypothesis import given, settings
from hypothesis import strategies as st
from scim2_models import InvalidFilterException

from provisioning.scim.filters import USER, filter_q


def _in_any_case(name: str):
    flips = st.lists(st.booleans(), min_size=len(name), max_size=len(name))
    pairs = flips.map(lambda upper: zip(name, upper, strict=True))
    return pairs.map(lambda both: "".join(c.upper() if u else c.lower() for c, u in both))


ANY_CASE = st.sampled_from(["userName", "externalId"]).flatmap(_in_any_case)
VALUE = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=20
)
EQ = st.sampled_from(["eq", "EQ", "Eq"])
TERM = st.builds(lambda a, op, v: f'{a} {op} "{v}"', ANY_CASE, EQ, VALUE)
ANY_OP = st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "CO", "Sw", "nE"])
UNKNOWN = st.sampled_from(["nickName", "userType", "x509Certificates", "name.formatted"])


def _outcome(text: str) -> Q | None:
    try:
        return filter_q(text, USER)
    except InvalidFilterException:
        return None


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.text(max_size=120))
def test_any_text_is_a_query_or_an_invalid_filter(text):
    _outcome(text)  # anything else raised fails the test


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(['userName eq "a"', "(", ")", " and ", " or ", "not ", " pr"])))
def test_grammar_pieces_in_any_order_are_a_query_or_an_invalid_filter(pieces):
    _outcome("".join(pieces))


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(TERM, min_size=1, max_size=4), st.sampled_from([" and ", " AND ", " And "]))
def test_eq_terms_joined_by_and_are_taken_in_any_case(terms, joiner):
    assert isinstance(_outcome(joiner.join(terms)), Q)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    ANY_CASE, ANY_OP, VALUE, st.lists(TERM, max_size=2), st.sampled_from([" or ", " OR ", " Or "])
)
def test_any_operator_and_an_or_are_taken_in_any_case(attribute, op, value, others, joiner):
    assert isinstance(_outcome(f'{attribute} {op} "{value}"'), Q)
    assert isinstance(_outcome(joiner.join([f'{attribute} {op} "{value}"', *others])), Q)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(UNKNOWN, ANY_OP, VALUE)
def test_an_attribute_not_filtered_on_is_an_invalid_filter_naming_it(attribute, op, value):
    try:
        filter_q(f'userName eq "a" or {attribute} {op} "{value}"', USER)
    except InvalidFilterException as refused:
        assert attribute in str(refused.detail)
    else:
        raise AssertionError("taken")
