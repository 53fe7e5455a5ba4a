"""Where a directory credential may be sent.

An endpoint URL is parsed and normalised (https only, no user name or password, no query or
fragment, host lower-cased and IDNA-encoded, port 443 folded), then checked against the
documented hosts of its directory: Microsoft's sign-in and Graph hosts of the global and
national clouds, Okta's org hosts (one label under an Okta domain), custom Okta domains
listed in OKTA_CUSTOM_DOMAINS (public hosts only, as a SCIM app's), and exactly the sandbox's
origin when SANDBOX_URL is set.
Origins are compared as (scheme, host, port), never as string prefixes: a prefix test lets
`https://sandbox:8765@elsewhere` through.

The forms refuse other endpoints; the connectors check again before anything leaves.
"""

from __future__ import annotations

import enum
import hashlib
import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna
from django.conf import settings

HTTPS_PORT = 443

# https://learn.microsoft.com/entra/identity-platform/authentication-national-cloud
# (Azure Germany closed in 2021 and is left out.)
ENTRA_LOGIN_HOSTS = {
    "login.microsoftonline.com": "global",
    "login.microsoftonline.us": "US Government",
    "login.chinacloudapi.cn": "China, 21Vianet",
    "login.partner.microsoftonline.cn": "China, 21Vianet",
}
# https://learn.microsoft.com/graph/deployments
ENTRA_GRAPH_HOSTS = {
    "graph.microsoft.com": "global",
    "graph.microsoft.us": "US Government L4 / GCC High",
    "dod-graph.microsoft.us": "US Government L5 / DoD",
    "microsoftgraph.chinacloudapi.cn": "China, 21Vianet",
}
# An org is one label under one of Okta's domains (the okta SDK's own list, plus the
# trexcloud.com cell).
OKTA_DOMAINS = (
    "okta.com",
    "oktapreview.com",
    "okta-emea.com",
    "okta-gov.com",
    "okta.mil",
    "okta-miltest.com",
    "trexcloud.com",
    "trex-govcloud.com",
)
LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
SEGMENT_RE = re.compile(r"[A-Za-z0-9._~-]+")


class Service(enum.Enum):
    ENTRA_LOGIN = "Microsoft Entra sign-in"
    ENTRA_GRAPH = "Microsoft Graph"
    OKTA_ORG = "Okta org"
    SCIM_APP = "SCIM app"


class EndpointError(ValueError):
    """An endpoint that is malformed or not allowed; the message is for the person."""


@dataclass(frozen=True)
class Endpoint:
    host: str  # lower-case; IDNA A-labels; an IP address in its compressed form
    port: int
    path: str = ""  # "" or "/a/b", never a trailing slash

    @property
    def origin(self) -> tuple[str, str, int]:
        return ("https", self.host, self.port)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == HTTPS_PORT else f":{self.port}"
        return f"https://{host}{port}{self.path}"


def parse(url: str) -> Endpoint:
    """The normalised endpoint of `url`; EndpointError when it is not a plain https URL."""
    text = (url or "").strip()
    if not text:
        raise EndpointError("Enter an https:// address.")
    if any(c.isspace() or ord(c) < 0x20 or c in "\\\x7f" for c in text):
        raise EndpointError("An address may not contain spaces, control characters or \\.")
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise EndpointError("Use an https:// address.")
    if "@" in parts.netloc:
        raise EndpointError(
            "An address may not carry a user name or password (the part before “@”)."
        )
    if "?" in text or "#" in text:
        raise EndpointError("An address may not have a ?query or #fragment.")
    try:
        port = parts.port
    except ValueError:
        raise EndpointError("The port must be a number from 1 to 65535.") from None
    if port == 0:
        raise EndpointError("The port must be a number from 1 to 65535.")
    return Endpoint(_host(parts.hostname or ""), port or HTTPS_PORT, _path(parts.path))


def _host(raw: str) -> str:
    host = raw.removesuffix(".")
    if not host:
        raise EndpointError("The address has no host name.")
    try:
        return ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise EndpointError("The host name is not a valid domain name.") from None


def _path(raw: str) -> str:
    trimmed = raw.rstrip("/")
    if not trimmed:
        return ""
    segments = trimmed.split("/")[1:]
    for segment in segments:
        if segment in ("", ".", "..") or not SEGMENT_RE.fullmatch(segment):
            raise EndpointError("The address's path may hold only letters, digits and - . _ ~.")
    return "/" + "/".join(segments)


def origin_of(url: str) -> tuple[str, str, int] | None:
    """The (scheme, host, port) a request to `url` goes to (any path or query), or None when
    it is not plain https or carries a user name."""
    parts = urlsplit((url or "").strip())
    if parts.scheme.lower() != "https" or "@" in parts.netloc:
        return None
    try:
        return ("https", _host(parts.hostname or ""), parts.port or HTTPS_PORT)
    except (ValueError, EndpointError):
        return None


def canonical(url: str) -> str:
    """`url` normalised when it parses, else as given (stripped); "" stays ""."""
    try:
        return parse(url).url if (url or "").strip() else ""
    except EndpointError:
        return url.strip()


def sandbox_origin() -> tuple[str, str, int] | None:
    """The sandbox's (scheme, host, port), or None when SANDBOX_URL is unset or unusable."""
    configured = getattr(settings, "SANDBOX_URL", "")
    if not configured:
        return None
    try:
        return parse(configured).origin
    except EndpointError:
        return None


def is_sandbox(url: str) -> bool:
    """True when `url` is on exactly the sandbox's origin (and the sandbox is configured)."""
    try:
        endpoint = parse(url)
    except EndpointError:
        return False
    origin = sandbox_origin()
    return origin is not None and endpoint.origin == origin


def custom_okta_domains() -> frozenset[str]:
    hosts = set()
    for entry in getattr(settings, "OKTA_CUSTOM_DOMAINS", []):
        try:
            hosts.add(_host(entry.strip().lower()))
        except EndpointError:
            continue  # a malformed entry allows nothing
    return frozenset(hosts)


def is_documented_host(service: Service, host: str) -> bool:
    if service is Service.SCIM_APP:
        return True  # any https host the MSP admin enters: the secret is bound to it
    if service is Service.ENTRA_LOGIN:
        return host in ENTRA_LOGIN_HOSTS
    if service is Service.ENTRA_GRAPH:
        return host in ENTRA_GRAPH_HOSTS
    if host in custom_okta_domains():
        return True
    label, _, domain = host.partition(".")
    return domain in OKTA_DOMAINS and bool(LABEL_RE.fullmatch(label))


def check_allowed(service: Service, url: str) -> Endpoint:
    """The normalised endpoint when a credential may go there, else EndpointError."""
    endpoint = parse(url)
    if endpoint.origin == sandbox_origin():
        return endpoint
    if service is Service.SCIM_APP:
        return _public_https(endpoint, "A SCIM app's address may not be")
    if endpoint.port != HTTPS_PORT or not is_documented_host(service, endpoint.host):
        raise EndpointError(f"{endpoint.url} is not {_an(service)} host. {allowed_text(service)}")
    if endpoint.path:
        raise EndpointError(f"Use the address without a path: https://{endpoint.host}")
    label, _, domain = endpoint.host.partition(".")
    if service is Service.OKTA_ORG and domain in OKTA_DOMAINS and label.endswith("-admin"):
        raise EndpointError(
            f"Use the org URL, not the admin console's: https://{label[:-6]}.{domain}"
        )
    if service is Service.OKTA_ORG and endpoint.host in custom_okta_domains():
        return _public_https(endpoint, "A custom Okta domain (OKTA_CUSTOM_DOMAINS) may not be")
    return endpoint


def public_https(url: str, refusal: str) -> Endpoint:
    """The normalised endpoint of any vendor's host (a SCIM app, a webhook receiver): https
    on a name, never this machine or a private or loopback address, the sandbox's origin
    excepted. `refusal` begins the message, e.g. "A webhook may not go to"."""
    endpoint = parse(url)
    if endpoint.origin == sandbox_origin():
        return endpoint
    return _public_https(endpoint, refusal)


def _public_https(endpoint: Endpoint, refusal: str) -> Endpoint:
    address = address_in(endpoint.host)
    if address is None:
        if endpoint.host == "localhost" or endpoint.host.endswith(".localhost"):
            raise EndpointError(f"{refusal} this machine.")
        return endpoint
    if (kind := not_public(address)) is not None:
        raise EndpointError(f"{refusal} {kind}.")
    return endpoint


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# IPv6 prefixes whose last 32 bits are an IPv4 address the packet goes on to: NAT64's
# well-known prefix (RFC 6052 §2.1), IPv4-compatible (RFC 4291 §2.5.5.1), IPv4-translated
# (RFC 2765 §2.1). IPv4-mapped, 6to4 and Teredo have their own properties in `ipaddress`.
EMBEDDING_LAST_32 = [ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96")]
# RFC 8215's local-use NAT64 prefix: translates to whatever the operator chose, inside
# (IANA's special-purpose registry: not globally reachable).
LOCAL_USE_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


LIMITED_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
RESERVED_IPV4 = ipaddress.ip_network("240.0.0.0/4")


def is_public(address: Address) -> bool:
    """Whether a request to `address` reaches one host on the public internet."""
    return not_public(address) is None


def not_public(address: Address) -> str | None:
    """None when a request to `address` reaches one host on the public internet, else what
    it reaches instead, for the message ("a multicast address"). A global unicast address
    qualifies when it carries no other kind of IPv4 address inside it (`ipaddress` judges
    those by their IPv6 prefix, and counts NAT64 and 6to4 of 127.0.0.1 as global). A
    multicast group is no one host, and `ipaddress` calls the routable ones global."""
    inside = embedded_ipv4(address) if address.version == 6 else []
    for each in (address, *inside):
        if each.is_multicast:
            return "a multicast address"
        if each == LIMITED_BROADCAST:
            return "a broadcast address"
        if each in RESERVED_IPV4:
            return "a reserved address (240.0.0.0/4)"
    if not address.is_global or address in LOCAL_USE_NAT64:
        return "a private or loopback address"
    if not all(each.is_global for each in inside):
        return "a private or loopback address"
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through (none for a plain one)."""
    found = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if any(address in prefix for prefix in EMBEDDING_LAST_32):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [inside for inside in found if inside is not None]


def addresses_of(found: list) -> list[str]:
    """The addresses `getaddrinfo` results name (without an IPv6 zone), each once, in the
    resolver's order: where a request connects."""
    return list(dict.fromkeys(str(sockaddr[0]).split("%", 1)[0] for *_, sockaddr in found))


def first_non_public(found: list) -> tuple[Address, str] | None:
    """The first address among `getaddrinfo` results (what a name resolves to now) that is
    not one public host, with what it is ("a private or loopback address"), or None when
    all are public."""
    for text in addresses_of(found):
        address = ipaddress.ip_address(text)
        if (kind := not_public(address)) is not None:
            return address, kind
    return None


def address_in(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP address `host` spells, in any form a resolver takes as one: the usual, and the
    old shorthand ones (`127.1`, `2130706433`, `0x7f.0.0.1`) that connect to 127.0.0.1 too."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.ip_address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def _an(service: Service) -> str:
    return f"a {service.value}" if service is not Service.OKTA_ORG else "an Okta org"


def allowed_text(service: Service) -> str:
    """What may be entered for `service`, in words."""
    if service is Service.SCIM_APP:
        text = "Allowed: the app's https:// SCIM base URL, as its vendor documents it"
    elif service is Service.ENTRA_LOGIN:
        hosts = ", ".join(f"{h} ({cloud})" for h, cloud in ENTRA_LOGIN_HOSTS.items())
        text = f"Allowed: {hosts}"
    elif service is Service.ENTRA_GRAPH:
        hosts = ", ".join(f"{h} ({cloud})" for h, cloud in ENTRA_GRAPH_HOSTS.items())
        text = f"Allowed: {hosts}"
    else:
        others = ", ".join(f".{d}" for d in OKTA_DOMAINS[1:])
        custom = sorted(custom_okta_domains())
        text = f"Allowed: https://<org>.{OKTA_DOMAINS[0]} (or {others})" + (
            f", or a custom domain listed in OKTA_CUSTOM_DOMAINS ({', '.join(custom)})"
            if custom
            else " (a custom Okta domain must first be listed in OKTA_CUSTOM_DOMAINS)"
        )
    origin = sandbox_origin()
    if origin:
        text += f"; or the sandbox at {Endpoint(origin[1], origin[2]).url}"
    return text + "."


def secret_binding(
    kind: str,
    directory_id: str,
    client_id: str,
    login_url: str,
    graph_url: str,
    org_url: str,
    scim: tuple[str, str, str] | None = None,
) -> str:
    """A fingerprint of what a connection's secret was entered for: sealed with the secret,
    so that a changed id or endpoint makes the stored secret unusable until it is entered
    again."""
    fields = [
        kind,
        (directory_id or "").strip().lower(),
        (client_id or "").strip().lower(),
        canonical(login_url),
        canonical(graph_url),
        canonical(org_url),
    ]
    if scim is not None:  # a SCIM app's base URL, auth mode and token URL (none for others)
        base_url, auth, token_url = scim
        fields += [canonical(base_url), auth, canonical(token_url)]
    return hashlib.sha256(json.dumps(fields).encode()).hexdigest()
