"""Forms of the access pages: requestable resources, requests and their extension, the
requests list filter, requests to act (onboard/offboard) and the e-mail settings.

End dates are typed in the tenant's time zone (wall clock), never the server's.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.fields import BoundedIntegerField, BoundedModelMultipleChoiceField
from portal.plain_text import plain_name
from provisioning.access import queries as queries_access
from provisioning.access import services as ar
from provisioning.inventory.memberships import seen_holding
from provisioning.lifecycle.forms import WallClockDateTimeField, clean_future
from provisioning.models import AccessRequest, Identity, Job, RequestableResource
from provisioning.queries import ATTRIBUTE_LABELS
from tenants import clock
from tenants.forms import no_markup
from tenants.models import RoleTemplate, Tenant

MAX_DAYS = 365
REASON_HELP = "Why the person needs it: the approver decides on this."


def posted(request):
    """A form's data: the POST (even an empty one, so that it is validated), else None."""
    return request.POST if request.method == "POST" else None


def reason_field(**kwargs) -> forms.CharField:
    kwargs.setdefault("help_text", REASON_HELP)
    return forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give a reason."},
        validators=[no_markup],
        **kwargs,
    )


def resource_label(resource: RequestableResource) -> str:
    where = f"{resource.get_kind_display().lower()} in {resource.connection.label}"
    limit = f" · time-bound, at most {resource.max_days} days" if resource.time_bound else ""
    return f"{resource.name} ({where}){limit}"


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Identity) -> str:
        return f"{obj.display_name} ({obj.username})"


class ResourceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: RequestableResource) -> str:
        return resource_label(obj)


class ApproverChoiceField(BoundedModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.get_username()


# -- requestable resources --------------------------------------------------------------------


class RequestableForm(forms.ModelForm):
    """The settings of a requestable group or app; a new one also picks it from the
    directory's live list (`listings`, read by queries_access.directory_resources)."""

    pick = forms.ChoiceField(
        label="Group or app",
        help_text="Read live from the tenant's directories.",
        error_messages={"invalid_choice": "Choose a group or app from the list."},
    )
    auto_approve_attribute = forms.ChoiceField(
        required=False,
        label="Auto-approve when the person's",
        choices=[("", "— no rule: an approver decides —")]
        + [(name, ATTRIBUTE_LABELS.get(name, name)) for name in ar.AUTO_APPROVE_ATTRIBUTES],
    )
    named_approvers = ApproverChoiceField(
        queryset=RequestableResource.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Named approvers",
    )

    class Meta:
        model = RequestableResource
        fields = [
            "description",
            "approvers",
            "named_approvers",
            "time_bound",
            "max_days",
            "auto_approve_attribute",
            "auto_approve_value",
            "is_active",
        ]
        labels = {
            "approvers": "Who approves",
            "time_bound": "Access must end at a date",
            "max_days": "Longest grant (days)",
            "auto_approve_value": "equals",
            "is_active": "Requestable now",
        }
        widgets = {"approvers": forms.RadioSelect}

    def __init__(self, *args, tenant: Tenant, listings=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["named_approvers"].queryset = queries_access.client_admins_of(tenant)
        self.fields["max_days"].widget.attrs.update({"min": 1, "max": MAX_DAYS})
        self.fields["description"].validators.append(no_markup)
        self.fields["auto_approve_value"].validators.append(no_markup)
        self.picked = None
        if self.instance.pk:
            del self.fields["pick"]
        else:
            self._offered = _offers(tenant, listings or [])
            self.fields["pick"].choices = _grouped(self._offered)

    def clean_pick(self) -> str:
        value = self.cleaned_data["pick"]
        self.picked = self._offered.get(value)
        if self.picked is None:
            raise ValidationError("Choose a group or app from the list.")
        return value

    def clean(self):
        data = super().clean()
        if data.get("time_bound") and not data.get("max_days"):
            self.add_error("max_days", "Give the longest grant in days (1 to 365).")
        if data.get("max_days") and not 1 <= data["max_days"] <= MAX_DAYS:
            self.add_error("max_days", "From 1 to 365 days.")
        approvers = data.get("approvers")
        if approvers == RequestableResource.Approvers.NAMED and not data.get("named_approvers"):
            self.add_error("named_approvers", "Choose at least one of the tenant's client admins.")
        attribute, value = data.get("auto_approve_attribute"), data.get("auto_approve_value")
        if attribute and not (value or "").strip():
            self.add_error("auto_approve_value", "Give the value that approves by itself.")
        if value and not attribute:
            self.add_error("auto_approve_attribute", "Choose the attribute the value is for.")
        return data

    def resource(self) -> RequestableResource:
        resource = self.save(commit=False)
        resource.tenant = self.tenant
        if not resource.time_bound:
            resource.max_days = resource.max_days or None
        resource.auto_approve_value = (resource.auto_approve_value or "").strip()
        if self.picked is not None:
            connection, kind, found = self.picked
            resource.connection, resource.kind = connection, kind
            resource.remote_id, resource.name = found.id, found.name
        return resource


def _offers(tenant: Tenant, listings) -> dict:
    """value -> (connection, kind, Resource), leaving out what is requestable already."""
    taken = set(tenant.requestables.values_list("connection_id", "kind", "remote_id"))
    offered = {}
    for listing in listings:
        for kind, found in [("group", g) for g in listing.groups] + [
            ("app", a) for a in listing.apps
        ]:
            if (listing.connection.pk, kind, found.id) not in taken:
                offered[f"{listing.connection.pk}:{kind}:{found.id}"] = (
                    listing.connection,
                    kind,
                    found,
                )
    return offered


def _grouped(offered: dict) -> list:
    groups: dict[str, list] = {}
    for value, (connection, kind, found) in offered.items():
        label = f"{connection.label} {'groups' if kind == 'group' else 'apps'}"
        groups.setdefault(label, []).append((value, found.name))
    return [("", "— choose —"), *groups.items()]


# -- requests ---------------------------------------------------------------------------------


class EndField(WallClockDateTimeField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", "Access ends")
        super().__init__(**kwargs)


def _clean_end(form, tenant: Tenant, resource: RequestableResource | None, local) -> None:
    """The aware end instant into cleaned_data["ends_at"], or a field error."""
    if local is None:
        if resource is not None and resource.time_bound and "ends_at" not in form.errors:
            form.add_error(
                "ends_at",
                f"{resource.name} is time-bound: give an end date "
                f"(at most {resource.max_days} days ahead).",
            )
        return
    try:
        at = clean_future(tenant, local)
    except ValidationError as error:
        form.add_error("ends_at", error)
        return
    limit = resource.max_days if resource is not None and resource.time_bound else None
    if limit and at > timezone.now() + timedelta(days=limit):
        form.add_error("ends_at", f"{resource.name} may be granted for at most {limit} days.")
        return
    form.cleaned_data["ends_at"] = at


class AccessRequestForm(forms.Form):
    identity = PersonChoiceField(
        queryset=Identity.objects.none(),
        label="Person",
        error_messages={"invalid_choice": "Choose an active person of this tenant."},
    )
    resource = ResourceChoiceField(
        queryset=RequestableResource.objects.none(),
        label="Access",
        error_messages={"invalid_choice": "Choose something this tenant lets people request."},
    )
    reason = reason_field()
    ends_at = EndField(required=False)

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["identity"].queryset = queries_access.active_people(tenant)
        self.fields["resource"].queryset = tenant.requestables.filter(
            is_active=True
        ).select_related("connection")
        self.fields["ends_at"].help_text = (
            f"In {tenant.time_zone}. Required for time-bound access (the list shows the "
            "longest grant); otherwise blank keeps the access until someone removes it."
        )

    def clean(self):
        data = super().clean()
        _clean_end(self, self.tenant, data.get("resource"), data.get("ends_at"))
        identity, resource = data.get("identity"), data.get("resource")
        held = identity and resource and _held_already(identity, resource)
        if held:
            self.add_error(
                "resource",
                f"{identity.display_name} already has {resource.name} {held}: "
                "there is nothing to request.",
            )
        return data


def _held_already(identity: Identity, resource: RequestableResource) -> str:
    """How the person holds the access already, by the portal's records or the directory's."""
    if held := queries_access.held_already(identity, resource):
        return held
    if seen := seen_holding(identity, resource):
        when = timezone.localtime(seen, ZoneInfo(identity.tenant.time_zone))
        return f"in {resource.connection.label} (seen there {when:%-d %b %Y %H:%M})"
    return ""


class ExtendForm(forms.Form):
    ends_at = EndField(label="New end")
    reason = reason_field(help_text="Why longer: an approver decides on the extension.")

    def __init__(self, *args, access_request: AccessRequest, **kwargs):
        super().__init__(*args, **kwargs)
        self.access_request = access_request
        tenant = access_request.tenant
        self.fields["ends_at"].help_text = f"In {tenant.time_zone}."

    def clean(self):
        data = super().clean()
        if data.get("ends_at") is not None:
            request = self.access_request
            _clean_end(self, request.tenant, request.resource, data["ends_at"])
        return data


class DecisionForm(forms.Form):
    """Approve or deny a request (the request page and the API)."""

    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("deny", "Deny")])
    reason = forms.CharField(
        max_length=2000,
        strip=True,
        validators=[no_markup],
        error_messages={"required": "Give a reason."},
    )


class RevokeForm(forms.Form):
    """Why access is taken back, for the audit trail (the API; optional)."""

    reason = forms.CharField(max_length=2000, strip=True, required=False, validators=[no_markup])


class AccessRequestQuery(forms.Form):
    """The new-request page's query: the person and the access a link names, as initial
    values; what does not parse is left out."""

    identity = BoundedIntegerField(required=False)
    resource = BoundedIntegerField(required=False)

    def prefill(self) -> dict:
        self.is_valid()
        return {name: str(value) for name, value in self.cleaned_data.items() if value}


class AccessRequestFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=AccessRequest.Status.choices, empty_label="Any status"
    )
    resource = django_filters.ModelChoiceFilter(
        queryset=RequestableResource.objects.none(), empty_label="Any access"
    )

    class Meta:
        model = AccessRequest
        fields = ["status", "resource"]

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["resource"].queryset = tenant.requestables.all()


# -- requests to act --------------------------------------------------------------------------


def note_field() -> forms.CharField:
    return forms.CharField(
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        validators=[no_markup],
        help_text="Anything the technician should know (equipment, manager, access).",
    )


class OnboardActionForm(forms.Form):
    first_name = forms.CharField(max_length=64, validators=[plain_name])
    last_name = forms.CharField(max_length=64, validators=[plain_name])
    role_template = forms.ModelChoiceField(
        queryset=RoleTemplate.objects.none(),
        required=False,
        label="Role",
        empty_label="— the technician decides —",
    )
    job_title = forms.CharField(max_length=128, required=False, validators=[plain_name])
    start_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    note = note_field()

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["role_template"].queryset = RoleTemplate.objects.filter(tenant=tenant)
        self.fields["start_date"].initial = clock.tenant_today(tenant)

    def clean_start_date(self):
        start, today = self.cleaned_data["start_date"], clock.tenant_today(self.tenant)
        if start < today - timedelta(days=30):
            raise ValidationError("The start date is more than 30 days in the past.")
        if start > today + timedelta(days=MAX_DAYS):
            raise ValidationError("The start date is more than a year ahead.")
        return start

    def details(self) -> dict:
        data = self.cleaned_data
        role = data.get("role_template")
        return {
            "first_name": " ".join(data["first_name"].split()),
            "last_name": " ".join(data["last_name"].split()),
            "role_template": role.pk if role else None,
            "role_name": role.name if role else "",
            "job_title": data.get("job_title", ""),
            "start_date": data["start_date"].isoformat(),
        }


class OffboardActionForm(forms.Form):
    identity = PersonChoiceField(
        queryset=Identity.objects.none(),
        label="Person",
        error_messages={"invalid_choice": "Choose an active person of this tenant."},
    )
    last_day = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        label="Last day",
        help_text="Blank: as soon as possible.",
    )
    note = note_field()

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        self.fields["identity"].queryset = queries_access.active_people(tenant)

    def clean_last_day(self):
        day = self.cleaned_data["last_day"]
        if day and day < timezone.localdate() - timedelta(days=30):
            raise ValidationError("The last day is more than 30 days in the past.")
        return day

    def details(self) -> dict:
        day = self.cleaned_data.get("last_day")
        return {"last_day": day.isoformat() if day else ""}


ACTION_FORMS = {"onboard": OnboardActionForm, "offboard": OffboardActionForm}


class ActionRequestQuery(forms.Form):
    """The request-to-act page's query: which form (onboarding unless it says offboard), and
    the person a link from the client home names; what does not parse is left out."""

    kind = forms.ChoiceField(choices=[(k, k) for k in ACTION_FORMS], required=False)
    identity = BoundedIntegerField(required=False)

    def chosen_kind(self) -> str:
        self.is_valid()
        return self.cleaned_data.get("kind") or "onboard"

    def prefill(self) -> dict:
        self.is_valid()
        identity = self.cleaned_data.get("identity")
        return {"identity": str(identity)} if identity else {}


class MarkDoneForm(forms.Form):
    job = forms.ModelChoiceField(
        queryset=Job.objects.none(), required=False, empty_label="— no single job —"
    )

    def __init__(self, *args, action_request, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["job"].queryset = Job.objects.filter(
            pk__in=[j.pk for j in queries_access.jobs_to_link(action_request)]
        )
        self.fields["job"].label_from_instance = _job_label

    @property
    def jobs(self):
        return self.fields["job"].queryset


def _job_label(job: Job) -> str:
    who = job.identity.display_name if job.identity else "–"
    return f"#{job.pk} {job.label} · {who} · {job.get_status_display()}"


class DeclineForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        validators=[no_markup],
        error_messages={"required": "Give a reason for declining: the client admin sees it."},
    )


class EmailSettingsForm(forms.Form):
    optional_emails = forms.BooleanField(
        required=False,
        label="Send me non-essential e-mails",
        help_text="Decisions on requests I filed, access granted, requests that expired, and "
        "reminders that access I approved ends soon.",
    )
