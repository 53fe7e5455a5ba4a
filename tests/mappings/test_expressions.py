"""The expression language against the examples of Microsoft's "Reference for writing
expressions for attribute mappings in Microsoft Entra ID", its errors and its limits."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.mappings import ExpressionError, parse
from tenants.mappings.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    Attribute,
    Call,
    Compare,
    Number,
    Omitted,
    Text,
    render,
)
from tenants.mappings.functions import FUNCTIONS, MAX_OUTPUT, evaluate

PERSON = {
    "givenName": "John",
    "surname": "Doe",
    "first_name": "Zoë",
    "last_name": "Sørensen-Ångström",
    "mailNickname": "john_doe72",
    "country": "USA",
    "department": "Sales",
    "state": "QLD",
    "extensionAttribute1": "20150123105347.1Z",
    "start_date": "2026-03-09",
    "telephoneNumber": "+1 (425) 555-0100",
    "empty": "",
}


def run(text: str, source: dict | None = None) -> str:
    return evaluate(parse(text), PERSON if source is None else source)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('Append([givenName], "@contoso.com")', "John@contoso.com"),
        ('Join(" ", [givenName], [surname])', "John Doe"),
        ('Join(".", [givenName], [empty], [surname])', "John.Doe"),  # an empty value is skipped
        ('Coalesce([empty], [nothing], [department], "x")', "Sales"),
        ('Coalesce([empty], "default")', "default"),
        ("ToLower([givenName])", "john"),
        ('ToUpper([givenName], "en-US")', "JOHN"),
        ("NormalizeDiacritics([first_name])", "Zoe"),
        ("NormalizeDiacritics([last_name])", "Sorensen-Angstrom"),
        ('Left("John Doe", 3)', "Joh"),
        ('Left("John Doe", 0)', ""),
        ('Left("John Doe", -1)', "John Doe"),
        ('Mid("John Doe", 3, 5)', "hn Do"),  # the first character is 1
        ('Mid("John Doe", 1, 100)', "John Doe"),
        ('Mid("John Doe", 20, 2)', ""),
        ('Trim("  John  ")', "John"),
        ('Word("The quick brown fox", 3, " ")', "brown"),
        ('Word("This,string!has&many separators", 3, ",!&#")', "has"),
        ('Word("The quick brown fox", 9, " ")', ""),
        ('Word("The quick brown fox", 0, " ")', ""),
        ('IIF([country]="USA", [country], [department])', "USA"),
        ('IIF([country]="DE", [country], [department])', "Sales"),
        ('IIF([country]!="DE", "not DE", "DE")', "not DE"),
        (
            'Switch([state], "Australia/Sydney", "NSW", "Australia/Sydney", "QLD", '
            '"Australia/Brisbane", "SA", "Australia/Adelaide")',
            "Australia/Brisbane",
        ),  # fmt: skip
        ('Switch("WA", "Australia/Sydney", "NSW", "Australia/Sydney")', "Australia/Sydney"),
        ('Replace([mailNickname], , "[a-zA-Z_]*", , "", , )', "72"),
        ('Replace([mailNickname], "_", , , ".", , )', "john.doe72"),
        ('Replace([givenName], "NAME", , , , , "Hello NAME!")', "Hello John!"),
        (
            'Replace([telephoneNumber], , "\\\\+(?<isdCode>\\\\d+) ", "isdCode", "44", , )',
            "+44 (425) 555-0100",
        ),
        (
            'FormatDateTime([extensionAttribute1], , "yyyyMMddHHmmss.fZ", "yyyy-MM-dd")',
            "2015-01-23",
        ),
        ('FormatDateTime([start_date], "yyyy-MM-dd", "dd/MM/yyyy")', "09/03/2026"),
        ('FormatDateTime([start_date], , "yyyy-MM-dd", "MMMM d, yyyy")', "March 9, 2026"),
        ('FormatDateTime([empty], , "yyyy-MM-dd", "dd/MM/yyyy")', ""),
        ("IsNullOrEmpty([empty])", "True"),
        ("IsPresent([givenName])", "True"),
        ("Not(IsPresent([nothing]))", "True"),
        ('"Company name: \\"Contoso\\""', 'Company name: "Contoso"'),
        ('"a backslash: \\\\"', "a backslash: \\"),
        ("[givenName]", "John"),
        ("[GIVENNAME]", "John"),  # attribute names are read case-insensitively
        ('tolower(JOIN(".", [givenName], [surname]))', "john.doe"),  # so are function names
    ],
)
def test_documented_behaviour(text, value):
    assert run(text) == value


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("ToLowr([x])", "Unknown function 'ToLowr'", 1),
        ('Join(" ", Lowr([x]))', "Unknown function 'Lowr'", 11),
        ('Join(" ", [first_name], [last_name]', "Missing ')'", 36),
        ("Join()", "Join needs at least 1 argument", 1),
        ("Left([x])", "Left takes 2 arguments", 1),
        ('Switch([x], "d", "k")', "Switch needs a value after each key", 1),
        ("[department", "Missing ']'", 12),
        ('Append([x], "abc)', "Missing closing '\"' of the string started", 13),
        ("Append([x] [y])", "Missing ')'", 12),
        ("ToLower", "Missing '(' after ToLower", 8),
        ("", "Empty expression", 1),
        ("[x] )", "Unexpected ')'", 5),
        ("ToLower([x]) ; 1", "Unexpected character ';'", 14),
        ('Left([x], "three")', "Left needs a whole number as argument 2", 11),
        ("Left([x], ¹)", "Unexpected character '¹'", 11),  # found by hypothesis
        ("Lëft([x], 1)", "Unexpected character 'ë'", 2),
    ],
)
def test_errors_carry_the_position(text, message, position):
    with pytest.raises(ExpressionError) as caught:
        run(text, {"x": "v"})
    assert caught.value.message == message
    assert caught.value.position == position
    assert str(caught.value) == f"{message} at {position}"


def test_limits():
    with pytest.raises(ExpressionError, match="longer than"):
        parse('"' + "a" * MAX_LENGTH + '"')
    deep = "ToLower(" * (MAX_DEPTH + 1) + "[x]" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(ExpressionError, match="Nested more than"):
        parse(deep)
    long = "a" * 600
    with pytest.raises(ExpressionError, match="more than"):
        run("Join([x], [x], [x])", {"x": long})
    with pytest.raises(ExpressionError, match="more than"):
        run('Replace([x], "a", , , "aaaa", , )', {"x": long})


@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a|aa)*b", "(x*)*", "(a)\\\\1", "a*a*a*a*a*c" + "x" * 200],
)
def test_slow_or_unsupported_patterns_are_refused(pattern):
    with pytest.raises(ExpressionError):
        run(f'Replace([x], , "{pattern}", , "", , )', {"x": "a" * 300})


def test_a_pattern_with_several_repeats_runs_only_on_short_text():
    text = 'Replace([x], , "a*a*a*c", , "", , )'
    assert run(text, {"x": "aaacz"}) == "z"
    with pytest.raises(ExpressionError, match="too long for this pattern"):
        run(text, {"x": "a" * 300})


def test_bad_dates_are_errors():
    with pytest.raises(ExpressionError, match="does not match"):
        run('FormatDateTime([x], , "yyyy-MM-dd", "dd/MM/yyyy")', {"x": "9 March"})
    with pytest.raises(ExpressionError, match="not a valid date"):
        run('FormatDateTime([x], , "yyyy-MM-dd", "dd/MM/yyyy")', {"x": "2026-02-30"})


def test_no_python_reaches_the_evaluator():
    for text in ['__import__("os")', "[x].__class__", 'eval("1")', "open([x])"]:
        with pytest.raises(ExpressionError):
            run(text, {"x": "v"})


# -- property tests: a grammar of expressions ------------------------------------------------

NAMES = ["first_name", "last_name", "department", "job_title", "start_date", "x"]
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
leaves = st.one_of(
    st.builds(Attribute, st.sampled_from(NAMES)),
    st.builds(Text, texts),
    st.builds(Number, st.integers(-99, 999)),
)


def _calls(children):
    def call(name, args):
        spec = FUNCTIONS[name.casefold()]
        count = max(spec.least, min(len(args), spec.most or len(args)))
        args = (args * (count // max(len(args), 1) + 1))[:count] if args else []
        if len(args) < spec.least:
            return Text("too few")
        if spec.pairs and len(args) % 2:
            args = args[:-1]
        if name == "Replace" and len(args) > 1:  # an omitted argument, as Replace takes them
            args = [args[0], Omitted(), *args[2:]]
        return Call(spec.name, tuple(args))

    compare = st.builds(Compare, st.sampled_from(["=", "!="]), leaves, leaves)
    return st.one_of(
        st.builds(
            call,
            st.sampled_from([f.name for f in FUNCTIONS.values()]),
            st.lists(children, min_size=1, max_size=5),
        ),  # fmt: skip
        compare,
    )


trees = st.recursive(leaves, _calls, max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees, st.dictionaries(st.sampled_from(NAMES), texts))
def test_any_expression_evaluates_or_fails_with_an_expression_error(tree, source):
    text = render(tree)
    try:
        node = parse(text)
    except ExpressionError as error:
        assert 1 <= error.position <= len(text) + 1
        return
    assert node == tree  # parse(render(ast)) round-trips
    assert render(node) == text
    try:
        value = evaluate(node, source)
    except ExpressionError as error:
        assert error.position >= 1
        return
    assert isinstance(value, str) and len(value) <= MAX_OUTPUT


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_fails_with_an_expression_error(text):
    try:
        parse(text)
    except ExpressionError as error:
        assert 1 <= error.position <= len(text) + 1
