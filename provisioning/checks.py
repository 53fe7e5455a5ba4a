"""“Test connection”: a real sign-in and a few reads, reported in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.connectors import bridge
from provisioning.connectors.errors import (
    AuthenticationError,
    ConnectorError,
    EndpointRefusedError,
    PermissionDeniedError,
    TransientError,
)
from provisioning.connectors.factory import connector_for
from tenants.crypto import CredentialError, SecretBindingError


@dataclass(frozen=True)
class Check:
    label: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class CheckResult:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)


def check_connection(connection) -> CheckResult:
    try:
        connector = connector_for(connection)
    except SecretBindingError as exc:
        return CheckResult([Check("Use the stored secret for these endpoints", False, str(exc))])
    except CredentialError as exc:
        return CheckResult([Check("Read the stored secret", False, str(exc))])
    try:
        return CheckResult(bridge.run(_checks(connector, connection.kind), timeout=90))
    except TimeoutError:
        return CheckResult([Check("Reach the directory", False, "No answer within 90 seconds.")])


async def _checks(connector, kind: str) -> list[Check]:
    reach, sign_in = Check("Reach the directory", True), Check(_sign_in_label(kind), True)
    try:
        await connector.probe()
    except EndpointRefusedError as exc:
        return [Check("Use an allowed endpoint", False, exc.message)]
    except TransientError as exc:
        return [Check("Reach the directory", False, exc.message)]
    except AuthenticationError as exc:
        return [reach, Check(_sign_in_label(kind), False, _auth_words(kind, exc.message))]
    except PermissionDeniedError as exc:
        detail = f"The app may not read users — grant it the permission. ({exc.message})"
        return [reach, sign_in, Check("Read users", False, detail)]
    except ConnectorError as exc:
        return [reach, Check(_sign_in_label(kind), False, exc.message)]
    checks = [reach, sign_in, Check("Read users", True)]
    reads = [("Read groups", connector.groups), ("Read apps", connector.apps)]
    if kind == "entra":
        reads.append(("Read licences", connector.licenses))
    for label, read in reads:
        try:
            found = await read(fresh=True)
            checks.append(Check(label, True, f"{len(found)} found"))
        except PermissionDeniedError as exc:
            checks.append(Check(label, False, f"Missing permission: {exc.message}"))
        except ConnectorError as exc:
            checks.append(Check(label, False, exc.message))
    return checks


def _sign_in_label(kind: str) -> str:
    return "Sign in with the client secret" if kind == "entra" else "Use the API token"


def _auth_words(kind: str, message: str) -> str:
    if "AADSTS7000215" in message:
        return f"The client secret is wrong or has expired. ({message})"
    if "AADSTS90002" in message or "AADSTS900023" in message:
        return f"No directory has this tenant ID. ({message})"
    if "AADSTS700016" in message:
        return f"No application with this client ID in the directory. ({message})"
    if kind == "okta":
        return f"The API token is wrong, expired or revoked. ({message})"
    return message
