"""Group rules: an active rule keeps the users its expression matches in its target groups.

As in Okta: rules are created INACTIVE and only INACTIVE rules may be changed (their target
groups never); a user added by a rule leaves the group when the profile stops matching;
removing such a user by hand puts them on the rule's exclusion list; deactivating a user does
not re-evaluate rules; a rule whose target group is deleted is INVALID, read or deleted only.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

from .errors import OktaError, validation_failed
from .expression import ExpressionError, Predicate, compile_rule
from .model import Group, GroupRule, User, new_id, now_iso

if TYPE_CHECKING:
    from .org import OktaOrg

NAME_MAX = 50
INVALID = "INVALID"


@lru_cache(maxsize=256)
def _predicate(expression: str) -> Predicate:
    return compile_rule(expression)


def _matches(rule: GroupRule, user: User) -> bool:
    return user.id not in rule.exclude_user_ids and bool(_predicate(rule.expression)(user.profile))


def validate(org: OktaOrg, name: object, expression: object, group_ids: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise validation_failed("name", "The field cannot be left blank")
    if len(name) > NAME_MAX:
        raise validation_failed("name", f"The field is too long (maximum {NAME_MAX})")
    try:
        _predicate(expression if isinstance(expression, str) else "")
    except ExpressionError as error:
        raise validation_failed("conditions.expression.value", str(error)) from None
    if not isinstance(group_ids, list) or not group_ids:
        raise validation_failed("actions.assignUserToGroups.groupIds", "At least one group")
    for gid in group_ids:
        if not isinstance(gid, str) or gid not in org.groups:
            raise validation_failed("actions.assignUserToGroups.groupIds", f"No group {gid}")
        if not org.groups[gid].members_managed_by_okta:  # Everyone, imported groups
            raise validation_failed(
                "actions.assignUserToGroups.groupIds", f"{gid} is not an Okta group"
            )


def create(
    org: OktaOrg, name: str, expression: str, group_ids: list[str], exclude: list[str]
) -> GroupRule:
    validate(org, name, expression, group_ids)
    stamp = now_iso()
    rule = GroupRule(new_id("0pr"), name, expression, list(group_ids), list(exclude), stamp, stamp)
    org.rules[rule.id] = rule
    return rule


def replace(
    org: OktaOrg, rule: GroupRule, name: str, expression: str, group_ids: list[str], exclude
) -> None:
    if rule.status == INVALID:
        raise validation_failed("status", "Only an INACTIVE rule can be updated")
    if rule.status == "ACTIVE":
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: status",
            ["status: Only an INACTIVE rule can be updated; deactivate it first"],
        )
    validate(org, name, expression, group_ids)
    # "You currently can't update the `actions` section" (okta SDK 3.x
    # `GroupRuleApi.replace_group_rule`, Okta's OpenAPI text): a replace must name the groups
    # the rule already assigns. Okta's error for one that does not is not published: 400
    # E0000001 on the field, as the other refused rule values.
    if list(group_ids) != rule.group_ids:
        raise validation_failed(
            "actions.assignUserToGroups.groupIds", "The actions of a rule cannot be updated"
        )
    rule.name, rule.expression = name, expression
    rule.exclude_user_ids = list(exclude)
    rule.last_updated = now_iso()


def _check_status_can_change(rule: GroupRule) -> None:
    # Okta's answer, quoted by okta/terraform-provider-okta (resource_okta_group_rule.go and the
    # debug output of issue #16): "Api validation failed: updateRuleStatus. Causes:
    # errorSummary: Cannot activate or deactivate a Group Rule with the status INVALID."
    if rule.status == INVALID:
        raise OktaError(
            400,
            "E0000001",
            "Api validation failed: updateRuleStatus",
            ["Cannot activate or deactivate a Group Rule with the status INVALID."],
        )


def activate(org: OktaOrg, rule: GroupRule) -> None:
    _check_status_can_change(rule)
    rule.status, rule.last_updated = "ACTIVE", now_iso()
    evaluate(org, org.users.values())


def deactivate(org: OktaOrg, rule: GroupRule) -> None:
    """Memberships the rule made stay, as they do in Okta."""
    _check_status_can_change(rule)
    rule.status, rule.last_updated = "INACTIVE", now_iso()


def delete(org: OktaOrg, rule: GroupRule, remove_users: bool) -> None:
    del org.rules[rule.id]
    if remove_users:
        for group in _targets(org, rule):
            for user_id in list(group.by_rule):
                org.remove_member(group, user_id, by_hand=False)


def invalidate_rules_of(org: OktaOrg, group_id: str) -> None:
    """A rule assigning to a deleted group becomes INVALID (okta SDK 3.x `GroupRuleStatus`;
    okta/terraform-provider-okta#157, #250: the rule is then "INVALID" with `allGroupsValid`
    false and "can only be read or deleted"). It runs no more; the memberships it made in its
    other groups stay, as after a deactivation."""
    for rule in org.rules.values():
        if group_id in rule.group_ids and rule.status != INVALID:
            rule.status, rule.last_updated = INVALID, now_iso()


def _targets(org: OktaOrg, rule: GroupRule) -> list[Group]:
    return [org.groups[gid] for gid in rule.group_ids if gid in org.groups]


def evaluate(org: OktaOrg, users: Iterable[User]) -> None:
    """Bring rule-made memberships of `users` in line with the active rules."""
    active = [r for r in org.rules.values() if r.status == "ACTIVE"]
    if not active:
        return
    for user in list(users):
        if user.status == "DEPROVISIONED":
            continue
        wanted = {gid for rule in active if _matches(rule, user) for gid in rule.group_ids}
        for group in org.groups.values():
            if group.id in wanted and user.id not in group.members:
                org.add_member(group, user, by_rule=True)
            elif group.id not in wanted and user.id in group.by_rule and _governed(active, group):
                org.remove_member(group, user.id, by_hand=False)


def _governed(active: list[GroupRule], group: Group) -> bool:
    return any(group.id in rule.group_ids for rule in active)


def exclude_from_rules(org: OktaOrg, group: Group, user_id: str) -> None:
    """A rule-made member removed by hand goes on the exclusion list of the rules that put
    them there, so they are not added back."""
    user = org.users.get(user_id)
    for rule in org.rules.values():
        if group.id in rule.group_ids and user is not None and _matches(rule, user):
            rule.exclude_user_ids.append(user_id)
            rule.last_updated = now_iso()
