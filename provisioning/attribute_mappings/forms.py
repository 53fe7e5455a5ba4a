from django import forms

from tenants.mappings import ExpressionError, validate
from tenants.mappings.expressions import MAX_LENGTH


class ExpressionForm(forms.Form):
    expression = forms.CharField(
        max_length=MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "class": "mono"}),
        help_text='[attribute], "constant", or functions such as Join(" ", [first_name], '
        "[last_name]).",
    )

    def __init__(self, *args, target: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.target = target
        self.problem: ExpressionError | None = None

    def clean_expression(self) -> str:
        text = self.cleaned_data["expression"].strip()
        try:
            validate(text, self.target)
        except ExpressionError as error:
            self.problem = error
            raise forms.ValidationError(str(error)) from None
        return text


class PersonSearchForm(forms.Form):
    """The preview's search, read before the people it offers are known."""

    q = forms.CharField(required=False, max_length=100)
    person = forms.IntegerField(required=False, min_value=1, max_value=2**62)


class PreviewForm(forms.Form):
    """A person of the tenant, and optionally one attribute's edited expression."""

    person = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    q = forms.CharField(required=False, max_length=100, label="Search")
    attribute = forms.CharField(required=False, max_length=40)
    expression = forms.CharField(required=False, max_length=MAX_LENGTH, strip=False)

    def __init__(self, *args, people, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "Choose a person")] + [
            (p.pk, f"{p.display_name} ({p.username})") for p in people
        ]
