"""The inbound endpoint driven by scim2-client over real HTTP (Django's live server), as an
identity provider would: join, filter, page, PATCH, leave, restore, delete, and the errors."""

from __future__ import annotations

import pytest
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    EnterpriseUser,
    Error,
    Group,
    ListResponse,
    Name,
    PatchOp,
    PatchOperation,
    ResourceType,
    ScimProvider,
    SearchRequest,
    User,
)

from provisioning.models import Identity, Job
from provisioning.scim import tokens
from tests.scim.conftest import scim_world

pytestmark = pytest.mark.django_db(transaction=True)

Person = User[EnterpriseUser]
PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(Person), ResourceType.from_resource(Group)],
)


@pytest.fixture
def idp(live_server, alpha, msp_admin):
    scim = scim_world(alpha, msp_admin)
    scim.base = f"{live_server.url}/scim/v2/{scim.tenant.slug}"
    scim.http = Client(base_url=scim.base, headers={"Authorization": f"Bearer {scim.clear}"})
    scim.client = SyncSCIMClient(scim.http, provider=PROVIDER)
    yield scim
    scim.http.close()


def person(user_name: str, department: str = "Finance", external_id: str = "") -> Person:
    user = Person(
        user_name=user_name,
        external_id=external_id or None,
        name=Name(given_name="Grace", family_name=user_name.split("@")[0].title()),
        # The login is in the tenant's domain; the mail is the company's public one.
        emails=[
            {"value": f"{user_name.split('@')[0]}@alpha-corp.com", "type": "work", "primary": True}
        ],
        title="Engineer",
        active=True,
    )
    user[EnterpriseUser] = EnterpriseUser(department=department)
    return user


def patch(**values) -> PatchOp:
    operations = [PatchOperation(op="replace", path=path, value=v) for path, v in values.items()]
    return PatchOp[Person](operations=operations)


def search(idp, **kwargs):
    return idp.client.query(Person, query_parameters=SearchRequest(**kwargs))


def test_an_identity_provider_joins_moves_leaves_restores_and_deletes(idp):
    created = idp.client.create(person("grace@alpha.test", external_id="00u-grace"))
    identity = Identity.objects.get(pk=int(created.id))
    assert identity.username == "grace@alpha.test" and identity.external_id == "00u-grace"
    assert [t.name for t in identity.role_templates.all()] == ["Finance"]
    assert identity.jobs.get().kind == Job.Kind.JOIN

    found = search(idp, filter='userName eq "grace@alpha.test"')
    assert found.total_results == 1 and found.resources[0].id == created.id
    found = search(idp, filter='externalId eq "00u-grace"')
    assert [u.id for u in found.resources] == [created.id]

    moved = idp.client.modify(
        Person,
        created.id,
        patch(
            title="Lead",
            **{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Sales"},
        ),
    )
    assert moved.title == "Lead" and moved[EnterpriseUser].department == "Sales"
    identity.refresh_from_db()
    assert list(identity.role_templates.all()) == [idp.world.template]
    assert identity.attributes["job_title"] == "Lead"

    left = idp.client.modify(Person, created.id, patch(active=False))
    assert left.active is False
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER
    leave = identity.jobs.order_by("-pk").first()
    assert leave.kind == Job.Kind.LEAVE and leave.batch.kind == "scim"

    back = idp.client.modify(Person, created.id, patch(active=True))
    assert back.active is True
    identity.refresh_from_db()
    assert identity.status == Identity.Status.JOINER
    assert identity.jobs.order_by("-pk").first().kind == Job.Kind.RESTORE

    idp.client.delete(Person, created.id)
    identity.refresh_from_db()
    assert identity.status == Identity.Status.LEAVER
    assert identity.leave_options["delete_after_days"] is not None
    gone = idp.client.query(Person, created.id, raise_scim_errors=False)
    assert isinstance(gone, Error) and gone.status == 404


def test_paging(idp):
    for n in range(3):
        idp.client.create(person(f"p{n}@alpha.test"))
    page = search(idp, start_index=2, count=2)
    assert isinstance(page, ListResponse)
    assert (page.total_results, page.start_index, page.items_per_page) == (4, 2, 2)


def test_errors(idp, bravo, msp_admin):
    idp.client.create(person("dup@alpha.test"))
    duplicate = idp.client.create(person("dup@alpha.test"), raise_scim_errors=False)
    assert isinstance(duplicate, Error)
    assert (duplicate.status, duplicate.scim_type) == (409, "uniqueness")

    bad = idp.client.query(
        Person, query_parameters=SearchRequest(filter='nickName co "x"'), raise_scim_errors=False
    )
    assert isinstance(bad, Error) and (bad.status, bad.scim_type) == (400, "invalidFilter")

    before = Identity.objects.count(), Job.objects.count()
    raw = idp.http.post(
        "/Users", content='{"userName": ', headers={"Content-Type": "application/scim+json"}
    )
    assert raw.status_code == 400
    assert raw.json()["scimType"] == "invalidSyntax" and raw.json()["status"] == "400"
    assert (Identity.objects.count(), Job.objects.count()) == before

    with Client(base_url=idp.base, headers={"Authorization": "Bearer scim_wrong"}) as wrong:
        refused = SyncSCIMClient(wrong, provider=PROVIDER).query(Person, raise_scim_errors=False)
    assert isinstance(refused, Error) and refused.status == 401

    _, other = tokens.issue(bravo.tenant, "Bravo IdP", actor=msp_admin)
    with Client(base_url=idp.base, headers={"Authorization": f"Bearer {other}"}) as foreign:
        hidden = SyncSCIMClient(foreign, provider=PROVIDER).query(Person, raise_scim_errors=False)
    assert isinstance(hidden, Error) and hidden.status == 404


def test_the_curl_session_of_the_doc_works(live_server, alpha, msp_admin, tmp_path):
    import re
    import subprocess
    from pathlib import Path

    scim = scim_world(alpha, msp_admin)
    scim.tenant.other_domains = [*scim.tenant.other_domains, "contoso.com"]  # the doc's
    scim.tenant.save(update_fields=["other_domains"])
    doc = (Path(__file__).resolve().parents[2] / "docs" / "scim.md").read_text()
    script = re.findall(r"```sh\n(.*?)```", doc, flags=re.S)[0]
    settings_lines = ("PORTAL=", "TENANT=", "TOKEN=")
    script = "\n".join(s for s in script.splitlines() if not s.startswith(settings_lines))
    env = {
        "PORTAL": live_server.url,
        "TENANT": scim.tenant.slug,
        "TOKEN": scim.clear,
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        ["bash", "-ec", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    person = Identity.objects.get(tenant=scim.tenant, external_id="hr-1042")
    assert person.status == Identity.Status.LEAVER
    assert [t.name for t in person.role_templates.all()] == ["Finance"]
    assert '"active": false' in run.stdout
