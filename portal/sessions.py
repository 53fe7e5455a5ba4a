"""Ending a person's open sessions, wherever they signed in."""

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.utils import timezone


def end_sessions_of(user) -> int:
    """Delete every live session signed in as `user` (how many). The store keeps the user's id
    inside each session's encoded data only, so the live ones are read one by one."""
    model = import_module(settings.SESSION_ENGINE).SessionStore.get_model_class()
    theirs = [
        session.pk
        for session in model.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user.pk)
    ]
    model.objects.filter(pk__in=theirs).delete()
    return len(theirs)
