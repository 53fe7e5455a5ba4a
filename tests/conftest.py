import pytest

from portal.models import Role
from tests.factories import make_person, make_tenant_world


@pytest.fixture
def alpha(db):
    """Tenant A, with a technician, an account manager and a client admin of its own."""
    return make_tenant_world("alpha", "Alpha Ltd")


@pytest.fixture
def bravo(db):
    """Tenant B, the other client: nothing of A may ever show to B's people."""
    return make_tenant_world("bravo", "Bravo GmbH")


@pytest.fixture
def msp_admin(db):
    return make_person("msp-admin", Role.MSP_ADMIN)


@pytest.fixture
def msp_template(db):
    from tenants.models import RoleTemplate

    return RoleTemplate.objects.create(tenant=None, name="MSP Standard", groups=["All Staff"])
