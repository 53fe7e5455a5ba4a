from django import forms


class OutboxPageForm(forms.Form):
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)
