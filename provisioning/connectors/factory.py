"""A connector for a DirectoryConnection, cached per connection and credential version."""

from __future__ import annotations

import hashlib

from provisioning.connectors import bridge
from provisioning.connectors.base import Connector
from provisioning.connectors.entra import EntraConnector
from provisioning.connectors.okta import OktaConnector


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
            ]
        ).encode()
    ).hexdigest()
    return bridge.cached_client(
        (connection.pk, version), lambda: _build(connection), stale=lambda c: c.close()
    )


def connector_type(connection) -> type[Connector]:
    """The class of a connection's connector: its capabilities, without a client."""
    return EntraConnector if connection.kind == "entra" else OktaConnector


def _build(connection) -> Connector:
    secret = connection.get_secret()
    if connector_type(connection) is EntraConnector:
        return EntraConnector(
            tenant_id=connection.directory_id,
            client_id=connection.client_id,
            secret=secret,
            login_url=connection.login_base_url,
            graph_url=connection.graph_base_url,
        )
    return OktaConnector(org_url=connection.org_url, token=secret)
