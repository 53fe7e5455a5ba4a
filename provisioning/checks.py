"""“Test connection”: a real sign-in, a few reads, and what the jobs will need (the app's
permissions and, for Entra, its directory roles; for Okta, the token's admin roles:
okta_checks.py), reported in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    # What a SCIM app declared (connectors/scim.py Discovery), for the connection to keep.
    discovered: dict = field(default_factory=dict)

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
        checks = bridge.run(_checks(connector, connection.kind), timeout=90)
    except TimeoutError:
        return CheckResult([Check("Reach the directory", False, "No answer within 90 seconds.")])
    discovered = getattr(connector, "discovered", None)
    return CheckResult(checks, discovered.as_dict() if discovered else {})


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
    if hasattr(connector, "discover"):
        return [reach, sign_in, *await scim_checks(connector)]
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
    if hasattr(connector, "app_permissions"):
        checks += await _job_needs(connector)
    if hasattr(connector, "admin_roles"):
        from provisioning.okta_checks import okta_job_needs  # it imports Check from here

        checks += await okta_job_needs(connector)
    return checks


# What each kind of step needs of an Entra app: application permissions (any one will do),
# as Graph's permission tables list them for the calls the connector makes.
USER_WRITE = ("User.ReadWrite.All", "Directory.ReadWrite.All")
NEEDS = (
    ("Create and update users, block sign-in", "create users and block sign-in", USER_WRITE),
    (
        "Change group members",
        "change group members",
        ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"),
    ),
    (
        "Assign licences",
        "assign licences",
        ("LicenseAssignment.ReadWrite.All", *USER_WRITE),
    ),
    ("Assign apps", "assign apps", ("AppRoleAssignment.ReadWrite.All",)),
    (
        "Remove a leaver's admin roles",
        "remove a leaver's admin roles (active and eligible)",
        ("RoleManagement.ReadWrite.Directory",),
    ),
    (
        "Remove a leaver from administrative units",
        "remove a leaver from administrative units",
        ("AdministrativeUnit.ReadWrite.All",),
    ),
    (
        "Hand over a leaver's mail",
        "set a leaver's automatic replies or forward their mail",
        ("MailboxSettings.ReadWrite",),
    ),
    (
        "Share a leaver's OneDrive",
        "give a leaver's manager their OneDrive",
        ("Files.ReadWrite.All", "Sites.ReadWrite.All"),
    ),
    (
        "Read the tenant's domains",
        "check at dry run that a joiner's domain is verified and not federated",
        (
            "Domain.Read.All",
            "Domain.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
        ),
    ),
    (
        "Issue a Temporary Access Pass",
        "issue a joiner's Temporary Access Pass",
        ("UserAuthenticationMethod.ReadWrite.All",),
    ),
)
PASSWORD_PERMISSIONS = ("User-PasswordProfile.ReadWrite.All", *USER_WRITE)
# Role definition ids (the built-in role templates, the same in every tenant).
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
PRIVILEGED_AUTH_ADMIN = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"


async def _job_needs(connector) -> list[Check]:
    try:
        granted = await connector.app_permissions()
    except ConnectorError as exc:
        return [Check("Read the app's permissions", False, exc.message)]
    checks = [
        Check(label, True)
        if granted.intersection(accepted)
        else Check(label, False, f"Cannot {words}: grant the app {accepted[0]}.")
        for label, words, accepted in NEEDS
    ]
    return [*checks, await _password_check(connector, granted)]


async def _password_check(connector, granted: frozenset[str]) -> Check:
    """Graph lets an app set passwords only with a permission and a directory role."""
    label = "Reset passwords"
    if not granted.intersection(PASSWORD_PERMISSIONS):
        return Check(label, False, "Cannot reset passwords: grant the app User.ReadWrite.All.")
    try:
        roles = await connector.app_directory_roles()
    except ConnectorError as exc:
        return Check(
            label,
            False,
            "Cannot tell which directory roles the app holds, so password resets may fail "
            f"({exc.message}): grant it RoleManagement.Read.Directory to check.",
        )
    if roles & {GLOBAL_ADMIN, PRIVILEGED_AUTH_ADMIN}:
        return Check(label, True, "the app may reset anyone's password")
    if USER_ADMIN in roles:
        return Check(
            label,
            True,
            "users' passwords; an administrator's needs the Privileged Authentication "
            "Administrator role, as do blocking an administrator's sign-in and deleting them "
            "(a member of a role-assignable group counts as an administrator)",
        )
    return Check(
        label,
        False,
        "Can read, cannot reset passwords: give the app the User Administrator role "
        "(Privileged Authentication Administrator to reset administrators' passwords too).",
    )


async def scim_checks(connector) -> list[Check]:
    """What a SCIM app declares in /ServiceProviderConfig, /ResourceTypes and /Schemas (its
    vendor profile applied), and a read of its users and groups."""
    try:
        found = await connector.discover()
    except ConnectorError as exc:
        return [
            Check("Read /ServiceProviderConfig, /ResourceTypes and /Schemas", False, exc.message)
        ]
    page = f"at most {found.max_results} a page" if found.max_results else "no page limit given"
    checks = [
        Check("Read /ServiceProviderConfig, /ResourceTypes and /Schemas", True),
        Check("PATCH users", True, "yes" if found.patch else "no: users are replaced with PUT"),
        Check(
            "PATCH groups",
            True,
            "yes" if found.group_patch else "no: a group is replaced whole with PUT",
        ),
        Check("Filter", True, f"yes, {page}" if found.filter else f"no: users are paged, {page}"),
        Check("Bulk", True, "yes" if found.bulk else "no"),
        Check("Groups", True, "yes" if found.groups else "no Group resource: no groups to give"),
        Check(
            "Enterprise extension",
            True,
            "yes: department, organization, employee number"
            if found.enterprise
            else "no: department and company are not sent",
        ),
    ]
    try:
        users = await connector.list_usernames()
        checks.append(Check("Read users", True, f"{len(users)} found"))
        groups = await connector.groups(fresh=True)
        checks.append(Check("Read groups", True, f"{len(groups)} found"))
    except ConnectorError as exc:
        checks.append(Check("Read users and groups", False, exc.message))
    return checks


def _sign_in_label(kind: str) -> str:
    if kind == "scim":
        return "Use the token"
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
    if kind == "scim" and "token URL refused" in message:
        return f"The OAuth client ID or secret is wrong, or the client was removed. ({message})"
    if kind == "scim":
        return f"The app refused the token: it is wrong, expired or revoked. ({message})"
    return message
