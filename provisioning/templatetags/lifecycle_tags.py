"""The person's lifecycle card on the identity page: read-only, from lifecycle.queries."""

from django import template

from provisioning.lifecycle import queries as queries_lifecycle

register = template.Library()


@register.inclusion_tag("provisioning/_lifecycle.html", takes_context=True)
def lifecycle_card(context, identity) -> dict:
    request = context.get("request")
    return {
        "identity": identity,
        "tenant": identity.tenant,
        "state": queries_lifecycle.lifecycle_of(identity),
        "can_operate": context.get("can_operate"),
        "csrf_token": context.get("csrf_token"),
        "here": request.get_full_path() if request else "",
    }
