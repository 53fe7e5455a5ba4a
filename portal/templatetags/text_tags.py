"""Long names in narrow columns: where a line may break; and what a form's errors point at."""

import re

from django import template
from django.core.exceptions import NON_FIELD_ERRORS
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from portal.licences import product_name

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


# After each slash but the first of "//": between a URL's parts.
URL_BREAKS = re.compile(r"(?<=/)(?=[^/])")


@register.filter
def breakable_url(value) -> SafeString:
    """The (escaped) URL with a <wbr> after each slash: a column too narrow for it breaks it
    between its parts ("…/scim/v2/" / "contoso"), not inside one. Copying it copies no break."""
    return mark_safe(URL_BREAKS.sub("<wbr>", str(conditional_escape(value))))  # noqa: S308 - escaped


@register.filter
def licence(part_number) -> SafeString:
    """A licence as the admin center names it, its part number beside ("Microsoft 365 E3
    SPE_E3": the role template form and Graph take the part number); a SKU Microsoft's table
    does not name, as it is."""
    name = product_name(str(part_number))
    if name is None:
        return format_html('<span class="mono">{}</span>', part_number)
    return format_html(
        '<span class="sku-name">{}</span> <span class="mono muted">{}</span>', name, part_number
    )


@register.filter
def has_field_errors(form) -> bool:
    """Whether a field of `form` has an error (its own, marked beside it): a form refused as
    a whole (a sign-in's wrong password, a missing code) has only non-field errors, and
    "correct the fields marked below" would point at nothing."""
    return any(name != NON_FIELD_ERRORS for name in getattr(form, "errors", None) or {})
