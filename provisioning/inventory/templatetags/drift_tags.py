"""The open drift of a person, for the pages that include templates/inventory/_person_drift.html
(the person's page, the identity's page)."""

from django import template

from provisioning.inventory import queries_drift

register = template.Library()


@register.simple_tag
def person_drift(person):
    """The person's open and converging items (None when there is no person)."""
    return queries_drift.open_of(person)
