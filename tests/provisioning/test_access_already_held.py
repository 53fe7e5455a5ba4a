"""A request for access the person holds already is refused before it is filed, with how they
hold it: their role template, the groups on their profile, a live grant, or the directory's
account as the inventory last read it. Access they do not hold is filed as before."""

import pytest
from django.utils import timezone

from portal.models import Role
from provisioning.inventory.models import Account
from provisioning.models import AccessRequest, DirectoryAccount
from tests.factories import make_person
from tests.provisioning.test_views_access import file, granted, post_request, requestable

pytestmark = pytest.mark.django_db


def refused(client, world, resource) -> str:
    client.force_login(world.client_admin)
    response = post_request(client, world, resource=resource.pk)
    assert response.status_code == 400
    assert not AccessRequest.objects.filter(resource=resource, status="pending").exists()
    return response.content.decode()


def test_a_group_the_role_gives_is_refused_naming_the_role(client, alpha):
    sales_team = requestable(alpha, "alpha ltd sales team")  # names match without case
    page = refused(client, alpha, sales_team)
    assert "already has alpha ltd sales team through the role Alpha Ltd Sales" in page
    assert "there is nothing to request" in page


def test_an_app_the_role_gives_is_refused(client, alpha):
    alpha.template.apps = ["Alpha Ltd CRM / User"]
    alpha.template.save()
    page = refused(client, alpha, requestable(alpha, "Alpha Ltd CRM", kind="app"))
    assert "through the role Alpha Ltd Sales" in page


def test_a_group_on_the_persons_profile_is_refused(client, alpha):
    alpha.identity.extra_groups = ["Finance Readers"]
    alpha.identity.save()
    page = refused(client, alpha, requestable(alpha, "Finance Readers"))
    assert "through the groups set on their profile" in page


def test_a_live_grant_is_refused(client, alpha):
    wiki = requestable(alpha, "Alpha Wiki", kind="app")
    granted(file(alpha, wiki, days=None))
    page = refused(client, alpha, wiki)
    assert "already has Alpha Wiki through an access request granted earlier" in page


def test_a_membership_the_directory_shows_is_refused(client, alpha):
    vpn = requestable(alpha, "Alpha VPN")
    DirectoryAccount.objects.create(
        identity=alpha.identity, connection=alpha.connection, remote_id="user-1"
    )
    Account.objects.create(
        connection=alpha.connection,
        tenant=alpha.tenant,
        remote_id="user-1",
        group_ids=[vpn.remote_id],
        last_seen=timezone.now(),
    )
    page = refused(client, alpha, vpn)
    assert "already has Alpha VPN in Microsoft Entra ID (seen there" in page


def test_access_not_held_is_filed(client, alpha):
    vpn = requestable(alpha, "Alpha VPN")
    DirectoryAccount.objects.create(
        identity=alpha.identity, connection=alpha.connection, remote_id="user-1"
    )
    Account.objects.create(  # in other groups only
        connection=alpha.connection, tenant=alpha.tenant, remote_id="user-1", group_ids=["x"]
    )
    make_person("ca2-alpha", Role.CLIENT_ADMIN, [alpha.tenant])  # who decides it
    client.force_login(alpha.client_admin)
    response = post_request(client, alpha, resource=vpn.pk)
    assert response.status_code == 302
    assert AccessRequest.objects.filter(resource=vpn, status="pending").count() == 1
