import pytest
from portal.models import Role
from tests.test_isolation_crawl import crawl_urls

pytestmark = pytest.mark.django_db

@pytest.mark.parametrize("role", [Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN, Role.TECHNICIAN])
def test_roles(client, alpha, bravo, msp_template, role):
    urls = crawl_urls(alpha, {"msp_template": msp_template})
    client.force_login(alpha.people[role])
    for name, url, _ in urls:
        for method in ("get", "post"):
            r = getattr(client, method)(url, HTTP_HX_REQUEST="true") if False else getattr(client, method)(url)
            if r.status_code not in (403, 404, 405):
                print("ROLE", role, method.upper(), name, url, r.status_code, r.get("Location", ""))
