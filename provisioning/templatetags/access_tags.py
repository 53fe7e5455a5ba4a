"""The person's access requests on the identity page: read-only, newest first."""

from django import template

from tenants import access

register = template.Library()
LIMIT = 20


@register.inclusion_tag("access/_identity_requests.html", takes_context=True)
def access_requests_card(context, identity) -> dict:
    request = context.get("request")
    requests = identity.access_requests.select_related("resource")[:LIMIT]
    return {
        "identity": identity,
        "tenant": identity.tenant,
        "requests": list(requests),
        "limit": LIMIT,
        "can_file": access.may_file_requests(getattr(request, "user", None)),
    }
