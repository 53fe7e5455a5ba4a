"""Every decision by role is taken in tenants/access.py, the one scoping module: a view, an
API endpoint, a context processor or a template tag asks it a question (`may_operate`,
`is_msp_admin`, `require_requester_or_operator`, ...) and never compares a role itself, so a
rule changes in one place and every page and endpoint follow it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import reverse

from provisioning.api.models import ApiToken
from tests.api.conftest import token_for
from tests.test_isolation_crawl import access_request_of

ROOT = Path(__file__).resolve().parents[2]
APPS = ("portal", "tenants", "provisioning", "reports")
# Not view or API code: what a person's role *stores* (the staff service sets is_staff from
# the role chosen, the form refuses an admin demoting themself) and the scoping module itself.
NOT_VIEWS = {
    "tenants/access.py",
    "tenants/staff.py",
    "tenants/views_staff.py",
    "portal/models.py",
}


def _is_role_operand(node: ast.AST) -> bool:
    """`role_of(...)`, `access.require_role(...)`, `Role.X`, or a variable named `role`."""
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in {"role_of", "require_role"}
    if isinstance(node, ast.Attribute):
        return isinstance(node.value, ast.Name) and node.value.id == "Role"
    return isinstance(node, ast.Name) and node.id == "role"


def role_comparisons() -> list[str]:
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in NOT_VIEWS or "/migrations/" in rel or "/management/" in rel:
                continue
            for node in ast.walk(ast.parse(path.read_text(), rel)):
                if isinstance(node, ast.Compare) and any(
                    _is_role_operand(n) for n in [node.left, *node.comparators]
                ):
                    found.append(f"{rel}:{node.lineno}")
    return found


def test_no_code_outside_the_scoping_module_compares_roles():
    assert role_comparisons() == []


pytestmark = pytest.mark.django_db


def test_only_the_requester_or_an_operator_cancels_a_request(client, alpha, msp_admin):
    filed = access_request_of(alpha)
    url = reverse(
        "access_request_cancel", kwargs={"tenant": alpha.tenant.slug, "request_id": filed.pk}
    )
    assert filed.requested_by == alpha.technician
    client.force_login(alpha.client_admin)  # neither its requester nor an operator
    assert client.post(url).status_code == 403
    client.force_login(alpha.account_manager)
    assert client.post(url).status_code == 403
    client.force_login(alpha.technician)
    assert client.post(url).status_code == 302


def test_an_msp_admin_reaches_anyones_token_and_others_only_their_own(client, alpha, msp_admin):
    token_for(alpha.technician, name="Tech RMM")
    theirs = ApiToken.objects.get(user=alpha.technician)
    url = reverse("api_token_revoke", kwargs={"api_token_id": theirs.pk})
    client.force_login(alpha.client_admin)
    assert client.get(url).status_code == 404
    client.force_login(msp_admin)
    assert client.get(url).status_code == 200
