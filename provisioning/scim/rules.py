"""A joiner's (or mover's) role templates from the tenant's rules, evaluated in order: every
rule that matches adds its template; when none does, the default rules' templates."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max

from portal.audit.events import record
from provisioning.scim.models import RoleRule
from tenants.models import RoleTemplate, Tenant

Attribute = RoleRule.Attribute


class NoRuleMatches(Exception):
    pass


def _folded(value: str) -> str:
    return " ".join((value or "").split()).casefold()


def matches(rule: RoleRule, fields: dict) -> bool:
    wanted = _folded(rule.value)
    if rule.attribute == Attribute.DEPARTMENT:
        return _folded(fields.get("department", "")) == wanted
    if rule.attribute == Attribute.JOB_TITLE:
        return bool(wanted) and wanted in _folded(fields.get("job_title", ""))
    if rule.attribute == Attribute.GROUP:
        return wanted in {_folded(g) for g in fields.get("groups", [])}
    return False


def templates_for(tenant: Tenant, fields: dict) -> list[RoleTemplate]:
    rules = list(RoleRule.objects.filter(tenant=tenant).select_related("role_template"))
    chosen = [r.role_template for r in rules if matches(r, fields)]
    if not chosen:
        chosen = [r.role_template for r in rules if r.attribute == Attribute.DEFAULT]
    if not chosen:
        raise NoRuleMatches(
            "No role rule of this tenant matches this user (department "
            f"{fields.get('department') or '(none)'}, title {fields.get('job_title') or '(none)'})"
            " and there is no default rule: an MSP admin adds one on the tenant's SCIM page."
        )
    return list(dict.fromkeys(chosen))


def add(tenant: Tenant, *, attribute: str, value: str, template: RoleTemplate, actor, http_request):
    with transaction.atomic():
        last = RoleRule.objects.filter(tenant=tenant).aggregate(m=Max("position"))["m"]
        rule = RoleRule.objects.create(
            tenant=tenant,
            position=(last or 0) + 1,
            attribute=attribute,
            value="" if attribute == Attribute.DEFAULT else value,
            role_template=template,
        )
        _audit("scim_rule.create", rule, actor, http_request)
    return rule


def delete(rule: RoleRule, *, actor, http_request) -> None:
    with transaction.atomic():
        _audit("scim_rule.delete", rule, actor, http_request)
        rule.delete()


def template_deleted(template: RoleTemplate, *, actor, request=None) -> None:
    """The rules that choose `template` go with it, each on the trail as the page's delete
    records it (called in the deletion's transaction, before the template goes)."""
    chosen = RoleRule.objects.filter(role_template=template)
    for rule in chosen.select_related("tenant", "role_template"):
        delete(rule, actor=actor, http_request=request)


def move(rule: RoleRule, up: bool, *, actor, http_request) -> None:
    """Swap the rule with its neighbour above or below."""
    with transaction.atomic():
        rules = list(RoleRule.objects.select_for_update().filter(tenant=rule.tenant))
        index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
        other = index - 1 if up else index + 1
        if not 0 <= other < len(rules):
            return
        rules[index], rules[other] = rules[other], rules[index]
        for position, each in enumerate(rules, start=1):
            if each.position != position:
                RoleRule.objects.filter(pk=each.pk).update(position=position)
        _audit("scim_rule.move", rule, actor, http_request, {"up": up})


def _audit(action: str, rule: RoleRule, actor, http_request, extra: dict | None = None) -> None:
    record(
        action,
        actor=actor,
        tenant=rule.tenant,
        target=("scim_rule", rule.pk, str(rule)),
        after={
            "attribute": rule.attribute,
            "value": rule.value,
            "role_template": rule.role_template.name,
        }
        | (extra or {}),
        request=http_request,
    )
