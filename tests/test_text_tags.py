"""The breakable filter: where a username may break, and the value escaped."""

from portal.templatetags.text_tags import breakable, breakable_url


def test_an_address_breaks_in_its_name_and_before_its_domain_kept_whole():
    assert breakable("ada.love-lace@contoso.example") == (
        "ada.<wbr>love-<wbr>lace<wbr>@contoso.example"
    )
    assert breakable("employee_12.34") == "employee_<wbr>12.<wbr>34"


def test_the_value_is_escaped_before_the_breaks_go_in():
    assert breakable('<b onmouseover="x">.a@b') == (
        "&lt;b onmouseover=&quot;x&quot;&gt;.<wbr>a<wbr>@b"
    )


def test_a_url_breaks_after_its_slashes_never_inside_a_word():
    """The SCIM base URL broke as "…/scim/v2/contos" / "o" in a narrow card."""
    assert breakable_url("http://127.0.0.1:8702/scim/v2/contoso") == (
        "http://<wbr>127.0.0.1:8702/<wbr>scim/<wbr>v2/<wbr>contoso"
    )
    assert breakable_url("https://x/<b>/") == "https://<wbr>x/<wbr>&lt;b&gt;/"
