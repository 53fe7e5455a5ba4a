"""Every change to a tenant's attribute mappings: one transaction, one audit event."""

from __future__ import annotations

from django.db import transaction

from portal.audit.events import record
from tenants.mappings.defaults import kind_of
from tenants.mappings.mapping import validate
from tenants.models import AttributeMapping, Tenant


def _target(mapping: AttributeMapping) -> tuple[str, str, str]:
    return ("attribute_mapping", mapping.pk, f"{mapping.target} · {mapping.attribute}")


def save_mapping(
    tenant: Tenant, target: str, attribute: str, expression: str, *, actor, request=None
) -> AttributeMapping:
    """Set `target`'s `attribute` to `expression`; ExpressionError (nothing saved) when it
    does not parse or reads an attribute the target's sources lack."""
    validate(expression, target)
    kind = kind_of(target)
    with transaction.atomic():
        mapping = (
            AttributeMapping.objects.select_for_update()
            .filter(tenant=tenant, target=target, attribute=attribute)
            .first()
        )
        before = mapping.expression if mapping else kind.defaults.get(attribute, "")
        if mapping is None:
            mapping = AttributeMapping(tenant=tenant, target=target, attribute=attribute)
        mapping.expression = expression
        mapping.order = list(kind.attributes).index(attribute)
        mapping.save()
        record(
            "attribute_mapping.update",
            actor=actor,
            tenant=tenant,
            target=_target(mapping),
            before={"target": target, "attribute": attribute, "expression": before},
            after={"target": target, "attribute": attribute, "expression": expression},
            request=request,
        )
    return mapping


def reset_mapping(tenant: Tenant, target: str, attribute: str, *, actor, request=None) -> bool:
    """Back to the default: the row goes. False when there was none (nothing recorded)."""
    default = kind_of(target).defaults.get(attribute, "")
    with transaction.atomic():
        mapping = (
            AttributeMapping.objects.select_for_update()
            .filter(tenant=tenant, target=target, attribute=attribute)
            .first()
        )
        if mapping is None:
            return False
        record(
            "attribute_mapping.reset",
            actor=actor,
            tenant=tenant,
            target=_target(mapping),
            before={"target": target, "attribute": attribute, "expression": mapping.expression},
            after={"target": target, "attribute": attribute, "expression": default},
            request=request,
        )
        mapping.delete()
    return True
