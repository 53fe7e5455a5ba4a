"""Filters of the Jobs list. The tenant choices are only the tenants the person may see."""

import django_filters
from django import forms

from portal.fields import BoundedDateField
from provisioning.models import Job
from tenants import access
from tenants.models import Tenant


def _visible_tenants(request):
    return access.tenants_for(request.user) if request else Tenant.objects.none()


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField


class JobFilter(django_filters.FilterSet):
    tenant = django_filters.ModelChoiceFilter(
        queryset=_visible_tenants, empty_label="All tenants", to_field_name="slug"
    )
    status = django_filters.ChoiceFilter(choices=Job.Status.choices, empty_label="Any status")
    kind = django_filters.ChoiceFilter(choices=Job.Kind.choices, empty_label="Any kind")
    created_from = BoundedDateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="Created from",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    created_to = BoundedDateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="Created to",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    checks = django_filters.ChoiceFilter(
        # Short choices: a select cannot wrap, and the question is in the label.
        choices=[("all", "Shown")],
        empty_label="Hidden",
        label="Checks that found nothing",
        method="keep",
    )

    class Meta:
        model = Job
        fields = ["tenant", "status", "kind", "created_from", "created_to", "checks"]

    def keep(self, queryset, name, value):
        return queryset  # applied in filter_queryset, also when the field is left empty

    def filter_queryset(self, queryset):
        """Periodic checks that found every directory as desired are hidden unless asked for
        (there is one per person per interval); those that found drift always show."""
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        if data.get("checks") == "all" or data.get("kind") == Job.Kind.RECONCILE:
            return queryset
        return queryset.exclude(kind=Job.Kind.RECONCILE, status=Job.Status.SUCCEEDED, steps_total=0)
