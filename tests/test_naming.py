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


def test_a_suffix_shortens_the_name_in_front_of_it_to_stay_within_the_bound():
    local = "a" * 30 + "." + "b" * 33  # 64 characters: Entra's most before the @
    taken = {f"{local}@c.test", f"{local[:63]}2@c.test"}
    result = naming.unique_username(
        "{first}.{last}@{domain}", "a" * 30, "b" * 33, "c.test", taken.__contains__,
        longest_local=64,
    )  # fmt: skip
    assert result == f"{local[:63]}3@c.test"
    at_ten = naming.unique_username(
        "{first}.{last}@{domain}", "a" * 30, "b" * 33, "c.test",
        lambda name: not name.split("@")[0].endswith("10"), longest_local=64,
    )  # fmt: skip
    assert at_ten == f"{local[:62]}10@c.test"


def test_a_shortened_name_does_not_end_in_a_dot_before_its_number():
    result = naming.unique_username(
        "{first}.{last}@{domain}", "a" * 9, "b" * 5, "c.test",
        lambda name: name == "aaaaaaaaa.bbbbb@c.test", longest_local=10,
    )  # fmt: skip
    assert result == "aaaaaaaaa2@c.test"
