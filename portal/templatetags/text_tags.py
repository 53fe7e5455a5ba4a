"""Long names in narrow columns: where a line may break."""

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# After a dot, hyphen or underscore of the name: where a person breaks an address.
NAME_BREAKS = re.compile(r"(?<=[._-])(?=.)")


@register.filter
def breakable(value) -> SafeString:
    """The (escaped) username or address with a <wbr> after each dot, hyphen or underscore of
    its name and before its @, the domain whole: a column too narrow for it breaks it between
    its parts ("ada." / "lovelace" / "@contoso.example"), not in the middle of a word."""
    name, at, domain = str(conditional_escape(value)).partition("@")
    name = NAME_BREAKS.sub("<wbr>", name)
    return mark_safe(f"{name}<wbr>{at}{domain}" if at and name else name + at + domain)  # noqa: S308 - escaped
