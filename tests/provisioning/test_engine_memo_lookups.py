"""provisioning/engine/memo.py: a tenant's configuration kept across runs is handed out
again without looking the thread's database connection up per row (asgiref's `Local`
behind every read of `django.db.connection`), and with copies of its JSON values only."""

import copy

import pytest

from provisioning.engine import memo
from tenants.models import RoleTemplate, Tenant
from tests.test_bulk_rows import connection_lookups


@pytest.mark.django_db
def test_kept_configuration_rows_come_back_without_a_connection_look_up():
    tenant = Tenant.objects.create(name="Memo", slug="memo", primary_domain="memo.example")
    for n in range(3):
        RoleTemplate.objects.create(tenant=tenant, name=f"Role {n}")

    def read():
        return list(RoleTemplate.objects.filter(tenant=tenant).order_by("name"))

    with memo.one_run():
        memo.keep(("config_version", tenant.pk), 1)
        first = memo.across_runs(tenant.pk, "templates", read)
    with memo.one_run():
        memo.keep(("config_version", tenant.pk), 1)
        with connection_lookups() as counted:
            again = memo.across_runs(tenant.pk, "templates", read)
    assert [t.name for t in again] == [t.name for t in first] == ["Role 0", "Role 1", "Role 2"]
    assert all(t._state.db == "default" and not t._state.adding for t in again)
    assert counted[0] == 0


@pytest.mark.django_db
def test_kept_rows_copy_only_the_values_a_run_could_change_in_place(monkeypatch):
    monkeypatch.setattr(memo, "_configs", {})  # none kept by another test's tenant of this id
    tenant = Tenant.objects.create(name="Copy", slug="copy", primary_domain="copy.example")
    RoleTemplate.objects.create(tenant=tenant, name="Sales", groups=["Staff"], apps=["CRM"])

    def read():
        return list(RoleTemplate.objects.filter(tenant=tenant, name="Sales"))

    with memo.one_run():
        memo.keep(("config_version", tenant.pk), 1)
        (first,) = memo.across_runs(tenant.pk, "templates", read)
    copied = []
    deepcopy = copy.deepcopy
    monkeypatch.setattr(memo.copy, "deepcopy", lambda v: copied.append(v) or deepcopy(v))
    with memo.one_run():
        memo.keep(("config_version", tenant.pk), 1)
        (again,) = memo.across_runs(tenant.pk, "templates", read)
        again.groups.append("Changed by this run")
    with memo.one_run():
        memo.keep(("config_version", tenant.pk), 1)
        (third,) = memo.across_runs(tenant.pk, "templates", read)
    assert third.groups == ["Staff"] and third.name == "Sales" and third.pk == first.pk
    # Each run's own lists (their items with them); its name, ids and times as they are.
    assert copied and {type(value) for value in copied} <= {list, dict, str}
