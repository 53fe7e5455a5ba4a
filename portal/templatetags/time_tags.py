"""How long ago something happened, in the words people say ("just now", "5 minutes ago")."""

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

register = template.Library()


@register.filter
def ago(moment) -> str:
    """ "just now" within a minute (Django's timesince says "0 minutes"), else "5 minutes
    ago"; "" for no moment."""
    if moment is None:
        return ""
    if (timezone.now() - moment).total_seconds() < 60:
        return "just now"
    return f"{timesince(moment)} ago"
