"""A connection's circuit breaker on the tenant page: open since, next probe, last probe."""

from django import template

from provisioning import quarantine

register = template.Library()


@register.inclusion_tag("provisioning/_quarantine.html", takes_context=True)
def quarantine_notice(context, connection) -> dict:
    return {
        "connection": connection,
        "tenant": context.get("tenant"),
        "breaker": quarantine.state_of(connection),
        "is_msp_admin": context.get("is_msp_admin"),
        "csrf_token": context.get("csrf_token"),
    }
