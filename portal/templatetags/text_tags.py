"""Long names in narrow columns: where a line may break."""

import re

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# After a dot, hyphen or underscore, and before an @: where a person breaks an address.
BREAKS = re.compile(r"(?<=[._-])(?=.)|(?=@)(?<=.)")


@register.filter
def breakable(value) -> SafeString:
    """The (escaped) username or address with a <wbr> where it may break, so that a column too
    narrow for it breaks it between its parts ("ada.lovelace" / "@contoso.example"), not in
    the middle of a word."""
    return mark_safe(BREAKS.sub("<wbr>", str(conditional_escape(value))))  # noqa: S308 - escaped
