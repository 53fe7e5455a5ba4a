"""What a mapping reads of a person: the engine's own source for outbound targets, and the
person as a SCIM client would send them for the inbound side."""

from __future__ import annotations

from django.db.models import Q

from provisioning.engine.desired import mapping_source_for
from provisioning.models import Identity
from tenants.mappings.defaults import INBOUND, kind_of

CHOICES = 200  # people offered in the preview's select (a search narrows them)


def people(tenant, search: str = "") -> list[Identity]:
    found = Identity.objects.filter(tenant=tenant)
    if search := search.strip():
        found = found.filter(
            Q(display_name__icontains=search)
            | Q(username__icontains=search)
            | Q(employee_id__iexact=search)
        )
    return list(found.order_by("display_name", "pk")[:CHOICES])


def source_of(identity: Identity, target: str) -> dict[str, str]:
    outbound = mapping_source_for(identity)
    if kind_of(target).kind != INBOUND:
        return outbound
    return {
        "userName": outbound["username"],
        "name.givenName": outbound["first_name"],
        "name.familyName": outbound["last_name"],
        "displayName": outbound["display_name"],
        "emails.work": outbound["email"],
        "title": outbound.get("job_title", ""),
        "externalId": outbound["employee_id"],
        "active": "True" if identity.status == Identity.Status.ACTIVE else "False",
        "department": outbound.get("department", ""),
        "organization": outbound.get("company", ""),
        "employeeNumber": outbound["employee_id"],
        "manager": outbound.get("manager", ""),
    }
