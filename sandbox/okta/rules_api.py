"""/api/v1/groups/rules: create, list, read, replace, activate, deactivate and delete rules."""

from __future__ import annotations

from . import rules
from .errors import bad_json, not_found, validation_failed
from .listing import page
from .model import GroupRule
from .pipeline import Call, Reply

EXPRESSION_TYPE = "urn:okta:expression:1.0"


def rule_json(rule: GroupRule) -> dict:
    return {
        "type": "group_rule",
        "id": rule.id,
        "status": rule.status,
        "name": rule.name,
        "created": rule.created,
        "lastUpdated": rule.last_updated,
        "conditions": {
            "people": {"users": {"exclude": rule.exclude_user_ids}, "groups": {"exclude": []}},
            "expression": {"value": rule.expression, "type": EXPRESSION_TYPE},
        },
        "actions": {"assignUserToGroups": {"groupIds": rule.group_ids}},
        "allGroupsValid": rule.status != rules.INVALID,
    }


def _dig(data: object, *keys: str) -> object:
    for key in keys:
        if data is None:
            return None
        if not isinstance(data, dict):
            raise bad_json()
        data = data.get(key)
    return data


def _only(value: object, allowed: str, field: str) -> None:
    """The one value Okta's OpenAPI allows ("Only `group_rule` is allowed", "Only valid value is
    'urn:okta:expression:1.0'": okta SDK 3.x `GroupRule.type`, `GroupRuleExpression.type`); it may
    be left out. Okta's cause text for another is not published: 400 E0000001 on the field."""
    if value is not None and value != allowed:
        raise validation_failed(field, f"Only {allowed} is allowed")


def _fields(call: Call) -> tuple[object, object, object, list[str]]:
    body = call.json()
    _only(body.get("type"), "group_rule", "type")
    _only(
        _dig(body, "conditions", "expression", "type"),
        EXPRESSION_TYPE,
        "conditions.expression.type",
    )
    exclude = _dig(body, "conditions", "people", "users", "exclude") or []
    if not isinstance(exclude, list) or not all(isinstance(u, str) for u in exclude):
        raise bad_json()
    return (
        body.get("name"),
        _dig(body, "conditions", "expression", "value"),
        _dig(body, "actions", "assignUserToGroups", "groupIds"),
        exclude,
    )


def _rule(call: Call) -> GroupRule:
    rule = call.org.rules.get(call.param("rule_id"))
    if rule is None:
        raise not_found(call.param("rule_id"), "GroupRule")
    return rule


def create_rule(call: Call) -> Reply:
    name, expression, group_ids, exclude = _fields(call)
    return Reply(200, rule_json(rules.create(call.org, name, expression, group_ids, exclude)))


def list_rules(call: Call) -> Reply:
    found = list(call.org.rules.values())
    keyword = (call.query("search") or "").strip().lower()
    if keyword:
        found = [r for r in found if keyword in r.name.lower()]
    # limit 1..200 (GroupRuleApi.list_group_rules: `Field(le=200, ge=1)`)
    chosen, headers = page(call, found, "/api/v1/groups/rules", 50, 200, minimum=1)
    return Reply(200, [rule_json(r) for r in chosen], headers)


def get_rule(call: Call) -> Reply:
    return Reply(200, rule_json(_rule(call)))


def replace_rule(call: Call) -> Reply:
    rule = _rule(call)
    name, expression, group_ids, exclude = _fields(call)
    rules.replace(call.org, rule, name, expression, group_ids, exclude)
    return Reply(200, rule_json(rule))


def activate_rule(call: Call) -> Reply:
    rules.activate(call.org, _rule(call))
    return Reply(204)


def deactivate_rule(call: Call) -> Reply:
    rules.deactivate(call.org, _rule(call))
    return Reply(204)


def delete_rule(call: Call) -> Reply:
    rules.delete(call.org, _rule(call), call.flag("removeUsers", False))
    return Reply(202)
