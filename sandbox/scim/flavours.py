"""The vendor flavours of a sandbox SCIM app: what each one supports, declared truthfully in
its /ServiceProviderConfig, /Schemas and /ResourceTypes so a client can discover it.

- `full`: everything the sandbox implements; filters on any attribute; pages of up to 200.
- `slack`: modelled on Slack's SCIM API where its docs say so (page size capped at 1000 with
  a default of 10, per Slack's 2019 changelog "SCIM API pagination changes"; 429 with
  Retry-After on its rate limits; `DELETE /Users/<id>` "Sets a Slack user to deactivated"
  (docs.slack.dev/reference/scim-api/scim-api-2), so the user stays, `active: false`, its
  userName taken, while `DELETE /Groups/<id>` "Permanently removes a group"). Groups take
  PUT but not PATCH (501 Not Implemented, the RFC 7644 §3.12 status for "service provider
  does not support the request operation, e.g., PATCH"): that quirk is modelled on the RFC's option
  (§3.5.2 makes PATCH optional), not on the vendor, whose reference lists
  `PATCH /Groups/<id>`; it keeps the portal's PUT path for groups under test.
- `zoom`: filters on `userName` only (any other attribute → 400 invalidFilter), pages of at
  most 100 (RFC 7644 §3.4.2.4 lets a provider return fewer than `count`), no Group resource
  type (/Groups → 404), and `userName pr` alone is 400 tooMany (RFC 7644 §3.12's own example
  of a filter a provider may refuse). Zoom's SCIM2 API reference
  (developers.zoom.us/docs/api/rest/scim-api) was found but says nothing of these limits,
  and it does serve Groups: the flavour is modelled on the RFC's options (filtering,
  §3.4.2.2, and resource types, RFC 7643 §6, are a provider's choice), not on the vendor.
  It has no enterprise extension in its /Schemas.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flavour:
    name: str
    max_results: int
    default_count: int
    groups: bool = True
    group_patch: bool = True
    enterprise: bool = True
    etag: bool = True
    filter_attributes: frozenset[str] | None = None  # lower-cased dotted names; None: any
    # A filter that is one `pr` and nothing else is refused 400 tooMany: RFC 7644 §3.12's own
    # example of a filter that "MAY not be acceptable to the service provider".
    refuses_bare_present: bool = False
    change_password: bool = True
    # DELETE of a user deactivates it (`active: false`, still read and listed, its userName
    # still taken) instead of removing it.
    delete_deactivates: bool = False

    def filters_on(self, dotted: str) -> bool:
        return self.filter_attributes is None or dotted.lower() in self.filter_attributes


FLAVOURS = {
    "full": Flavour("full", max_results=200, default_count=100),
    "slack": Flavour(
        "slack",
        max_results=1000,
        default_count=10,
        group_patch=False,
        etag=False,
        change_password=False,
        delete_deactivates=True,
    ),
    "zoom": Flavour(
        "zoom",
        max_results=100,
        default_count=30,
        groups=False,
        enterprise=False,
        etag=False,
        filter_attributes=frozenset({"username"}),
        refuses_bare_present=True,
        change_password=False,
    ),
}
