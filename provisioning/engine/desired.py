"""The desired state of an Identity: its role templates merged, its own overrides on top."""

from __future__ import annotations

from dataclasses import dataclass, field

from tenants.clock import tenant_today

ATTRIBUTE_NAMES = ("department", "job_title", "usage_location", "company", "office")


@dataclass(frozen=True)
class DesiredState:
    username: str
    first_name: str
    last_name: str
    display_name: str
    email: str
    enabled: bool = True
    attributes: dict = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    licenses: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()


def merge_templates(templates, tenant, overrides: dict, extra_groups=()) -> dict:
    """Attributes, groups, licences and apps of `templates` (in order), then `overrides`."""
    from_templates: dict = {}
    groups, licenses, apps = [], [], []
    for template in templates:
        for name in ATTRIBUTE_NAMES:
            if value := getattr(template, name):
                from_templates.setdefault(name, value)  # the first template that sets it wins
        groups += template.groups
        licenses += template.licenses
        apps += template.apps
    given = {k: v for k, v in overrides.items() if v not in (None, "")}
    attributes = {"usage_location": tenant.default_usage_location} | from_templates | given
    return {
        "attributes": attributes,
        "groups": tuple(dict.fromkeys([*groups, *extra_groups])),
        "licenses": tuple(dict.fromkeys(licenses)),
        "apps": tuple(dict.fromkeys(apps)),
    }


def managed_access(identity) -> dict:
    """The groups, licences and apps the portal gives this identity (templates + extras):
    what a mover may take away again, unlike access granted by other means."""
    merged = merge_templates(
        list(identity.role_templates.all()), identity.tenant, {}, identity.extra_groups
    )
    return {name: list(merged[name]) for name in ("groups", "licenses", "apps")}


def desired_state(
    identity, license_choices: dict | None = None, enabled: bool | None = None
) -> DesiredState:
    """`license_choices` maps a SKU with no free seat to its replacement ("" = go without)."""
    merged = merge_templates(
        list(identity.role_templates.all()),
        identity.tenant,
        identity.attributes,
        identity.extra_groups,
    )
    licenses = merged["licenses"]
    if license_choices:
        licenses = tuple(
            dict.fromkeys(filter(None, (license_choices.get(sku, sku) for sku in licenses)))
        )
    return DesiredState(
        username=identity.username,
        first_name=identity.first_name,
        last_name=identity.last_name,
        display_name=identity.display_name,
        email=identity.email,
        enabled=_should_be_enabled(identity) if enabled is None else enabled,
        attributes=merged["attributes"],
        groups=merged["groups"],
        licenses=licenses,
        apps=merged["apps"],
    )


def _should_be_enabled(identity) -> bool:
    """Not when they have left, nor (a joiner created ahead) before their start date."""
    if identity.status in (identity.Status.LEFT, identity.Status.DELETED):
        return False
    starts_later = identity.start_date and identity.start_date > tenant_today(identity.tenant)
    return not (identity.status == identity.Status.JOINER and starts_later)
