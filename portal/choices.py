"""`get_FOO_display` for a field of fixed choices, with the choices' dict made once.

Django's `_get_FIELD_display` builds `dict(make_hashable(field.flatchoices))` on every call:
each choice hashed through `make_hashable`, about ten calls for a label the engine asks for
on every step and directory it names (docs/benchmarks.md, cpuengine7)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import models
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


def display_of(name: str) -> Callable[[models.Model], str]:
    """The `get_<name>_display` method for field `name`, whose choices never change (not a
    callable's): the label Django's gives, its dict made on the first call. Django keeps a
    model's own `get_<name>_display` in place of the one it would add."""
    labels: dict = {}

    def get_display(self: models.Model) -> str:
        if not labels:
            field = self._meta.get_field(name)
            labels.update(make_hashable(field.flatchoices))
        value = getattr(self, name)
        # force_str() to coerce lazy strings, as Django's does.
        return force_str(labels.get(make_hashable(value), value), strings_only=True)

    get_display.__name__ = f"get_{name}_display"
    return get_display
