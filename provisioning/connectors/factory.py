"""A connector for a DirectoryConnection, cached per connection and credential version."""

from __future__ import annotations

import hashlib
import json
import threading
from types import SimpleNamespace

from django.conf import settings

from provisioning.connectors import bridge
from provisioning.connectors.base import Connector

# Each connector module is imported when a connection of its kind is first used: importing the
# okta SDK alone takes seconds of CPU (its models), which every process paid at start-up
# (the web server, the worker, each management command) whether or not it spoke to Okta.
# A web server may import them all in the background as it starts (settings.WARM_CONNECTORS).


def import_every_kind() -> None:
    """Every kind the deployment warms (settings.WARM_CONNECTOR_KINDS: all three unless a
    deployment with no Okta or SCIM connection leaves those out)."""
    for kind in settings.WARM_CONNECTOR_KINDS:
        connector = connector_type(SimpleNamespace(kind=kind))
        if hasattr(connector, "warm"):
            connector.warm()


def warm_in_background() -> threading.Thread:
    """import_every_kind in a thread of its own, so the process serves meanwhile. Never in a
    process about to fork: a child forked while the thread holds the import lock hangs."""
    thread = threading.Thread(target=import_every_kind, name="warm-connectors", daemon=True)
    thread.start()
    return thread


def connector_for(connection) -> Connector:
    """Raises tenants.crypto.CredentialError when the stored secret cannot be decrypted."""
    version = hashlib.sha256(
        "|".join(
            [
                connection.secret_ciphertext,
                connection.directory_id,
                connection.client_id,
                connection.login_base_url,
                connection.graph_base_url,
                connection.org_url,
                connection.scim_base_url,
                connection.scim_auth,
                connection.scim_token_url,
                connection.scim_profile,
                connection.name,
                json.dumps(connection.scim_discovered, sort_keys=True),
            ]
        ).encode()
    ).hexdigest()
    return bridge.cached_client(
        (connection.pk, version), lambda: _build(connection), stale=lambda c: c.close()
    )


def connector_type(connection) -> type[Connector]:
    """The class of a connection's connector: its capabilities, without a client."""
    if connection.kind == "entra":
        from provisioning.connectors.entra import EntraConnector

        return EntraConnector
    if connection.kind == "scim":
        from provisioning.connectors.scim import ScimConnector

        return ScimConnector
    from provisioning.connectors.okta import OktaConnector

    return OktaConnector


def _build(connection) -> Connector:
    secret = connection.get_secret()
    connector = connector_type(connection)
    if connection.kind == "entra":
        return connector(
            tenant_id=connection.directory_id,
            client_id=connection.client_id,
            secret=secret,
            login_url=connection.login_base_url,
            graph_url=connection.graph_base_url,
        )
    if connection.kind == "scim":
        return connector(
            base_url=connection.scim_base_url,
            secret=secret,
            auth=connection.scim_auth,
            token_url=connection.scim_token_url,
            client_id=connection.client_id,
            profile=connection.scim_profile,
            discovered=connection.scim_discovered,
            name=connection.label,
        )
    return connector(org_url=connection.org_url, token=secret)
