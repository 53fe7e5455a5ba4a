"""The open drift of a person, for the pages that include templates/inventory/_person_drift.html
(the person's page, the identity's page)."""

from django import template

from provisioning.inventory import drift

register = template.Library()


@register.simple_tag
def person_drift(person):
    """The person's open and converging items (None when there is no person)."""
    return drift.open_of(person)
