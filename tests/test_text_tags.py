"""The breakable filter: where a username may break, and the value escaped."""

from portal.templatetags.text_tags import breakable


def test_an_address_breaks_in_its_name_and_before_its_domain_kept_whole():
    assert breakable("ada.love-lace@contoso.example") == (
        "ada.<wbr>love-<wbr>lace<wbr>@contoso.example"
    )
    assert breakable("employee_12.34") == "employee_<wbr>12.<wbr>34"


def test_the_value_is_escaped_before_the_breaks_go_in():
    assert breakable('<b onmouseover="x">.a@b') == (
        "&lt;b onmouseover=&quot;x&quot;&gt;.<wbr>a<wbr>@b"
    )
