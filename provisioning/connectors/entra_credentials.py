"""When the Entra app registration's client secret ends: the application's
`passwordCredentials` (Graph: GET /applications(appId='{appId}'), Application.Read.All).

The secret in use is the credential whose `hint` (its first three characters) matches the
secret the connection signs in with; failing that, the one that ends first, said so."""

from __future__ import annotations

from datetime import UTC, datetime

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.applications_with_app_id.applications_with_app_id_request_builder import (
    ApplicationsWithAppIdRequestBuilder,
)
from msgraph.generated.models.password_credential import PasswordCredential

from provisioning.connectors.base import CredentialExpiry

SELECT = ["id", "appId", "displayName", "passwordCredentials"]
Query = ApplicationsWithAppIdRequestBuilder.ApplicationsWithAppIdRequestBuilderGetQueryParameters


async def read_expiry(
    client: GraphServiceClient, app_id: str, secret: str
) -> CredentialExpiry | None:
    """None when the app holds no secret with an end date."""
    config = RequestConfiguration(query_parameters=Query(select=SELECT))
    app = await client.applications_with_app_id(app_id).get(config)
    credentials = [c for c in (app.password_credentials or []) if c.end_date_time] if app else []
    return choose(credentials, secret)


def choose(credentials: list[PasswordCredential], secret: str) -> CredentialExpiry | None:
    if not credentials:
        return None
    matching = [c for c in credentials if c.hint and secret.startswith(c.hint)]
    picked = min(matching or credentials, key=lambda c: _utc(c.end_date_time))
    if matching:
        which = f"the secret in use ({_name(picked)}, hint {picked.hint}…)"
    else:
        which = (
            f"the first to end of {len(credentials)} secret(s) ({_name(picked)}): "
            "none matches the secret in use"
        )
    return CredentialExpiry(
        expires_at=_utc(picked.end_date_time),
        key_id=str(picked.key_id or ""),
        which=which,
        matches_secret_in_use=bool(matching),
    )


def _name(credential: PasswordCredential) -> str:
    return f"“{credential.display_name}”" if credential.display_name else "unnamed"


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
