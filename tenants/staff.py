"""Staff management: people, their role and the tenants they are assigned to."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from portal import mfa, usernames
from portal.audit.events import event_for, record_all
from portal.audit.people import record_about
from portal.deactivation import withdraw_access
from portal.fields import BoundedModelMultipleChoiceField
from portal.models import Role, StaffProfile
from tenants.access import bound_tenants
from tenants.forms import no_markup
from tenants.models import Tenant, TenantAssignment

User = get_user_model()


class StaffForm(forms.Form):
    username = forms.CharField(max_length=150)
    first_name = forms.CharField(max_length=150, required=False, validators=[no_markup])
    last_name = forms.CharField(max_length=150, required=False, validators=[no_markup])
    email = forms.EmailField(required=False)
    # No role until one is picked: the first (MSP admin, every right) was chosen for whoever
    # was added without a look at it.
    role = forms.ChoiceField(choices=[("", "Choose a role"), *Role.choices])
    all_tenants = forms.BooleanField(
        required=False, help_text="Technicians and account managers: every tenant."
    )
    tenants = BoundedModelMultipleChoiceField(
        queryset=Tenant.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )
    password = forms.CharField(
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        required=False,
        help_text="Blank keeps the current password.",
    )
    is_active = forms.BooleanField(
        label="Active: may sign in",
        required=False,
        initial=True,
        help_text="Untick to lock them out: their sessions end and their API tokens are revoked.",
    )

    def __init__(self, *args, person=None, **kwargs):
        self.person = person
        if person is not None:
            kwargs.setdefault("initial", initial_for(person))
        super().__init__(*args, **kwargs)
        if person is None:
            self.fields["password"].required = True
            self.fields["password"].help_text = ""

    def clean_username(self) -> str:
        username = usernames.nfkc(self.cleaned_data["username"].strip())
        User.username_validator(username)
        other_than = self.person.pk if self.person is not None else None
        if usernames.holder_of(username, other_than=other_than) is not None:
            raise ValidationError("Another person has this username.")
        return username

    def clean(self):
        data = super().clean()
        role, tenants = data.get("role"), data.get("tenants") or []
        if role == Role.CLIENT_ADMIN:
            data["all_tenants"] = False
            if len(tenants) != 1:
                self.add_error("tenants", "A client admin belongs to exactly one tenant.")
        elif role in (Role.TECHNICIAN, Role.ACCOUNT_MANAGER):
            if not tenants and not data.get("all_tenants"):
                self.add_error("tenants", "Assign at least one tenant, or tick “all tenants”.")
        elif role == Role.MSP_ADMIN:
            data["all_tenants"], data["tenants"] = False, []
        password = data.get("password")
        if password:
            probe = self.person or User(username=data.get("username", ""))
            try:
                validate_password(password, probe)
            except ValidationError as exc:
                self.add_error("password", exc)
        return data


def initial_for(person) -> dict:
    profile = getattr(person, "profile", None)
    return {
        "username": person.username,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "role": profile.role if profile else "",
        "all_tenants": profile.all_tenants if profile else False,
        "tenants": list(person.assigned_tenants.all()),
        "is_active": person.is_active,
    }


def staff_snapshot(person) -> dict:
    data = initial_for(person)
    data["tenants"] = sorted(t.slug for t in data["tenants"])
    return data


def save_person(data: dict, *, person=None, actor, request=None):
    """Create or update a staff member with role and assignments, in one audited transaction."""
    creating = person is None
    before = None if creating else staff_snapshot(person)
    with transaction.atomic():
        bound_before = [] if creating else bound_tenants(person)
        person = person or User()
        for field in ("username", "first_name", "last_name", "email", "is_active"):
            setattr(person, field, data[field])
        person.is_staff = data["role"] == Role.MSP_ADMIN  # Django admin is for MSP admins only
        person.is_superuser = data["role"] == Role.MSP_ADMIN
        if data.get("password"):
            person.set_password(data["password"])
        person.save()
        if before is not None and before["is_active"] != person.is_active:
            # Django refuses their sessions and tokens while they are inactive, but would
            # take them back on reactivation.
            withdraw_access(person, actor=actor, reactivated=person.is_active, request=request)
        StaffProfile.objects.update_or_create(
            user=person, defaults={"role": data["role"], "all_tenants": data["all_tenants"]}
        )
        TenantAssignment.objects.filter(user=person).delete()
        TenantAssignment.objects.bulk_create(
            TenantAssignment(user=person, tenant=t) for t in data["tenants"]
        )
        after = staff_snapshot(person)
        if data.get("password"):
            # Whoever sets a password could sign in as the person: that it changed is on
            # the record (never the password; a boolean survives the redaction).
            after["password_changed"] = True
        action = "staff.create" if creating else "staff.update"
        record_all(
            [
                event_for(
                    action,
                    actor=actor,
                    tenant=tenant,
                    target=person,
                    before=_as_seen_by(before, tenant),
                    after=_as_seen_by(after, tenant),
                    request=request,
                )
                for tenant in _trails(bound_before, bound_tenants(person))
            ]
        )
    return person


def _trails(before: list[Tenant], after: list[Tenant]) -> list[Tenant | None]:
    """Where a staff change is recorded: the trail of every tenant the person was or is
    bound to (a client admin, an account manager of some tenants), so that the client sees
    its own admins created, changed, given a password, moved away or deactivated; the
    MSP-wide trail when there is none. MSP admins read every trail."""
    tenants = {t.pk: t for t in [*before, *after]}
    return [tenants[pk] for pk in sorted(tenants)] or [None]


def _as_seen_by(snapshot: dict | None, tenant: Tenant | None) -> dict | None:
    """A staff snapshot for `tenant`'s trail: its list of tenants names this one only (never
    another client); whole on the MSP-wide trail."""
    if snapshot is None or tenant is None:
        return snapshot
    return {**snapshot, "tenants": [s for s in snapshot["tenants"] if s == tenant.slug]}


def reset_second_factor(person, *, actor, request=None) -> int:
    """Remove a person's authenticator app and recovery codes (they lost their phone), in one
    audited transaction; the number of devices removed. If two-step sign-in is required of
    them, they set it up again at their next sign-in."""
    with transaction.atomic():
        removed = mfa.remove_second_factor(person)
        record_about(
            person,
            "staff.mfa_reset",
            actor=actor,
            target=person,
            before={"devices": removed},
            after={"devices": 0},
            request=request,
        )
    return removed
