"""What the adopt page lists as "Attributes kept as theirs"."""

from provisioning.inventory.adoption_draft import Draft
from tenants.models import RoleTemplate


def draft(attributes: dict, templates: list[RoleTemplate]) -> Draft:
    return Draft(person=None, accounts=[], templates=templates, fields={"attributes": attributes})


def test_none_of_their_own_is_not_kept_where_a_chosen_template_sets_it():
    """Eve's accounts hold no usage location and Finance sets DE: the page says it would set
    DE, so "Usage location: none" beside it would contradict it."""
    held = {"usage_location": "", "department": "Sales"}
    finance = RoleTemplate(name="Finance", usage_location="DE")
    assert draft(held, [finance]).attribute_labels == [("Department", "Sales")]
    staff = RoleTemplate(name="Staff")
    assert draft(held, [staff]).attribute_labels == [
        ("Usage location", "none"),  # nothing sets one: none is imposed on them
        ("Department", "Sales"),
    ]
    own = {"usage_location": "GB"}
    assert draft(own, [finance]).attribute_labels == [("Usage location", "GB")]  # theirs wins
