"""provisioning/engine/memo.py: a tenant's configuration kept across runs is handed out
again without looking the thread's database connection up per row (asgiref's `Local`
behind every read of `django.db.connection`)."""

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
