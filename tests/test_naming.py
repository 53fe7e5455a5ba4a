import pytest

from tenants import naming


@pytest.mark.parametrize(
    "rule,first,last,expected",
    [
        ("{first}.{last}@{domain}", "José", "Müller", "jose.muller@contoso.test"),
        ("{first}.{last}@{domain}", "Zoë", "O'Brien-Smith", "zoe.obrien-smith@contoso.test"),
        ("{f}{last}@{domain}", "Łukasz", "SSeißer", "lsseisser@contoso.test"),
        ("{first}_{l}@{domain}", "Ærøskøbing", "Strand", "aeroskobing_s@contoso.test"),
        (
            "{first}.{last}@{domain}",
            "Anna Maria",
            "van der Berg",
            "annamaria.vanderberg@contoso.test",
        ),
        ("{first}.{last}@{domain}", "", "Plato", "plato@contoso.test"),
    ],
)
def test_render_folds_and_lowercases(rule, first, last, expected):
    assert naming.render(rule, first, last, "Contoso.TEST") == expected


def test_collisions_get_numeric_suffixes():
    taken = {"jose.muller@c.test", "jose.muller2@c.test"}
    result = naming.unique_username(
        "{first}.{last}@{domain}", "José", "Müller", "c.test", taken.__contains__
    )
    assert result == "jose.muller3@c.test"


def test_every_candidate_taken_is_an_error():
    with pytest.raises(naming.NamingRuleError, match="is taken"):
        naming.unique_username("{first}@{domain}", "a", "b", "c.test", lambda _: True)


@pytest.mark.parametrize(
    "rule,message",
    [
        ("{first}.{surname}@{domain}", "Unknown placeholder {surname}"),
        ("{first!r}@{domain}", "Unknown placeholder"),
        ("{first}.{last}", "must end with @{domain}"),
        ("{first}@contoso.test", "must end with @{domain}"),
        ("admin@{domain}", "must use the person's name"),
        ("{first@{domain}", "unbalanced braces"),
    ],
)
def test_bad_rules(rule, message):
    with pytest.raises(
        naming.NamingRuleError, match=message.replace("{", r"\{").replace("}", r"\}")
    ):
        naming.validate_rule(rule)


def test_name_without_letters_is_an_error():
    with pytest.raises(naming.NamingRuleError, match="empty username"):
        naming.render("{first}.{last}@{domain}", "李", "王", "c.test")
