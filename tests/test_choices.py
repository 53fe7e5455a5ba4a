"""portal/choices.py: a step's action and a directory's kind are labelled as Django labels
them, without walking the field's choices on every call."""

from unittest.mock import patch

import pytest
from django.db import models

from provisioning.models import Step
from tenants.models import DirectoryConnection

FIELDS = [(Step, "action"), (DirectoryConnection, "kind")]


@pytest.mark.parametrize(("model", "name"), FIELDS)
def test_every_choice_is_labelled_as_django_labels_it(model, name):
    field = model._meta.get_field(name)
    values = [value for value, _ in field.flatchoices] + ["not_a_choice", ""]
    for value in values:
        obj = model(**{name: value})
        expected = models.Model._get_FIELD_display(obj, field)
        assert getattr(obj, f"get_{name}_display")() == expected
    assert Step(action=Step.Action.ADD_GROUP).get_action_display() == "Add to group"


@pytest.mark.parametrize(("model", "name"), FIELDS)
def test_a_label_does_not_walk_the_choices_each_time(model, name):
    field = model._meta.get_field(name)
    value = field.flatchoices[-1][0]
    real = models.Field.flatchoices
    reads = []

    def counted(self):
        reads.append(self)
        return real.fget(self)

    with patch.object(models.Field, "flatchoices", property(counted)):
        labels = {getattr(model(**{name: value}), f"get_{name}_display")() for _ in range(3)}
    assert labels == {dict(field.flatchoices)[value]}
    assert len(reads) <= 1
