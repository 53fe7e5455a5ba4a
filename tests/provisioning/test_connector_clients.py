"""SDK clients live across jobs in a worker process: one per connection and secret, bounded.

A warm job builds no client and asks for no token; a rotated secret is used from the next
job on; one tenant's client never serves another's connection.
"""

from __future__ import annotations

import json
import ssl
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.user import User

from provisioning.connectors import bridge
from provisioning.connectors.base import NewUser, ssl_context_for
from provisioning.connectors.entra import EntraConnector, _directory_user, _user_from_body
from provisioning.connectors.errors import AuthenticationError
from provisioning.connectors.factory import connector_for
from provisioning.connectors.okta import OktaConnector
from tests.provisioning.directories import make_directories

TOKEN_ROUTE = "POST /{tenant}/oauth2/v2.0/token"


def fresh(server):
    return make_directories(server, f"cc{uuid.uuid4().hex[:10]}")


def entra_of(dirs):
    return dirs.tenant.connections.get(kind="entra")


@pytest.mark.django_db
def test_later_jobs_reuse_the_client_and_its_token(on_sandbox):
    dirs = fresh(on_sandbox)
    bridge.run(connector_for(entra_of(dirs)).probe())
    bridge.run(connector_for(entra_of(dirs)).probe())  # a later job loads the row again

    assert connector_for(entra_of(dirs)) is connector_for(entra_of(dirs))
    assert dirs.stats("entra")["calls"][TOKEN_ROUTE] == 1


@pytest.mark.django_db
def test_a_rotated_secret_is_used_by_the_next_job(on_sandbox):
    dirs = fresh(on_sandbox)
    connection = entra_of(dirs)
    bridge.run(connector_for(connection).probe())

    connection.set_secret("not-the-directory-secret")
    connection.save()

    with pytest.raises(AuthenticationError):
        bridge.run(connector_for(entra_of(dirs)).probe())


@pytest.mark.django_db
def test_each_connection_has_a_client_of_its_own(on_sandbox):
    first, second = fresh(on_sandbox), fresh(on_sandbox)

    one, other = connector_for(entra_of(first)), connector_for(entra_of(second))

    assert one is not other
    assert (one.tenant_id, other.tenant_id) == (first.entra_id, second.entra_id)


@pytest.mark.django_db
def test_only_the_most_recently_used_clients_stay(on_sandbox, monkeypatch):
    monkeypatch.setattr(bridge, "MAX_CLIENTS", 2)
    a, b, c = (entra_of(fresh(on_sandbox)) for _ in range(3))
    kept = connector_for(a)
    dropped = connector_for(b)
    connector_for(a)

    connector_for(c)

    assert len(bridge._clients) == 2
    assert connector_for(a) is kept
    assert connector_for(b) is not dropped


@pytest.mark.django_db
def test_a_created_user_reads_back_as_it_was_created(on_sandbox):
    dirs = fresh(on_sandbox)
    connector = connector_for(entra_of(dirs))
    domain = dirs.tenant.primary_domain
    new = NewUser(
        username=f"grace@{domain}",
        first_name="Grace",
        last_name="Hopper",
        display_name="Grace Hopper",
        email=f"grace@{domain}",
        password="Created-Pa55word!",
        attributes={"department": "Research", "job_title": "Rear Admiral"},
    )

    created = bridge.run(connector.create_user(new))
    read, _ = bridge.run(connector.read_state(created.id, with_roles=False))

    # Graph answers a create with a few default fields only; the read has them all.
    assert (created.id, created.username) == (read.id, f"grace@{domain}")
    assert created.attributes["display_name"] == "Grace Hopper"
    assert read.attributes["department"] == "Research"
    assert read.enabled


@pytest.mark.django_db
def test_blank_values_are_left_out_not_sent_as_empty_strings(on_sandbox):
    """Graph refuses "" for any of a user's strings (docs/sandbox-fidelity.md, "request
    rules"): a joiner without an address or a department is created without them, and an
    update with a blank value changes nothing instead of failing."""
    dirs = fresh(on_sandbox)
    connector = connector_for(entra_of(dirs))
    domain = dirs.tenant.primary_domain
    new = NewUser(
        username=f"blank@{domain}",
        first_name="Bea",
        last_name="Blank",
        display_name="Bea Blank",
        email="",
        password="Created-Pa55word!",
        attributes={"department": "", "job_title": "Analyst"},
    )

    created = bridge.run(connector.create_user(new))
    bridge.run(connector.update_user(created.id, {"office": "", "department": "Research"}))
    read, _ = bridge.run(connector.read_state(created.id, with_roles=False))

    assert (read.attributes.get("email"), read.attributes.get("office")) == (None, None)
    assert (read.attributes["job_title"], read.attributes["department"]) == ("Analyst", "Research")


@pytest.mark.parametrize(
    "body",
    [
        {
            "id": "6a1c2f0e-0000-4000-8000-000000000001",
            "userPrincipalName": "ada@example.test",
            "accountEnabled": True,
            "givenName": "Ada",
            "surname": "Lovelace",
            "displayName": "Ada Lovelace",
            "mail": "ada@example.test",
            "department": "Engines",
            "jobTitle": "Analyst",
            "usageLocation": "GB",
            "companyName": "Babbage & Co",
            "officeLocation": "London",
            "onPremisesSyncEnabled": True,
            "assignedLicenses": [],
        },
        {"id": "6a1c2f0e-0000-4000-8000-000000000002", "accountEnabled": False},
        {  # values of the wrong type, as a directory may send them
            "id": "6a1c2f0e-0000-4000-8000-000000000003",
            "userPrincipalName": 7,
            "accountEnabled": "true",
            "department": 42,
            "jobTitle": None,
            "onPremisesSyncEnabled": "yes",
        },
    ],
)
def test_a_users_json_reads_as_the_sdk_model_reads(body):
    node = JsonParseNodeFactory().get_root_parse_node("application/json", json.dumps(body).encode())

    assert _user_from_body(body) == _directory_user(node.get_object_value(User))


@pytest.mark.django_db
def test_cold_clients_share_the_processs_tls_trust_instead_of_loading_it_each(
    on_sandbox, monkeypatch, tmp_path
):
    """Loading the system's CA certificates costs ~30 ms of CPU, which each new client paid
    (in a worker, each connection's first job): the clients of a process share one context
    per trust store; the sandbox's CA file, when it changes, is loaded again."""
    built: list[str | None] = []
    create = ssl.create_default_context

    def counted(*args, cafile=None, **kwargs):
        built.append(cafile)
        return create(*args, cafile=cafile, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    clouds = [
        EntraConnector(
            tenant_id=str(uuid.uuid4()),
            client_id=str(uuid.uuid4()),
            secret="not-sent",
            login_url="",
            graph_url="",
        )
        for _ in range(3)
    ] + [OktaConnector(org_url=f"https://o{n}.okta.com", token="not-sent") for n in range(3)]

    async def build_clients():
        for connector in clouds:
            connector._graph() if connector.kind == "entra" else connector._okta()

    bridge.run(build_clients())
    sandbox_contexts = {id(ssl_context_for(on_sandbox.url)) for _ in range(3)}
    ca = tmp_path / "ca.pem"
    ca.write_bytes(Path(settings.SANDBOX_CA_FILE).read_bytes())
    monkeypatch.setattr(settings, "SANDBOX_CA_FILE", ca)
    moved = ssl_context_for(on_sandbox.url)
    ca.write_bytes(ca.read_bytes() + b"\n")
    changed = ssl_context_for(on_sandbox.url)
    for connector in clouds:
        bridge.run(connector.close())

    assert len(sandbox_contexts) == 1 and moved is not changed
    assert built.count(None) <= 1  # the system's store, once a process at most
    assert built.count(str(ca)) == 2
