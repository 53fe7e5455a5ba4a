"""The scim2-tester compliance checker (RFC 7643/7644) against the sandbox's SCIM apps.

It runs discovery, then create / read / query (with attributes and excludedAttributes) /
replace / PATCH add-replace-remove of every attribute / delete of every resource type the app
advertises. Its only SKIPPED checks are `search_with_attributes`, which searches at the root
(POST /.search across resource types, RFC 7644 §3.4.3): the apps answer 501 there, which
the checker itself accepts as "not supported"; /Users/.search and /Groups/.search work.
"""

from __future__ import annotations

from scim2_tester import Status, check_server

from tests.sandbox.scim_support import make_app
from tests.sandbox.server import SandboxServer

FAILED = (Status.ERROR, Status.CRITICAL)


def failures(results) -> list[str]:
    return [f"{r.title} {r.resource_type}: {r.reason}" for r in results if r.status in FAILED]


def test_the_full_flavour_passes_every_check(sandbox_server: SandboxServer) -> None:
    app = make_app(sandbox_server, "full")
    results = check_server(app.client())
    assert failures(results) == []
    assert sum(r.status == Status.SUCCESS for r in results) > 100
    skipped = {r.title for r in results if r.status == Status.SKIPPED}
    assert skipped <= {"search_with_attributes"}


def test_zoom_passes_every_check_of_what_it_advertises(sandbox_server: SandboxServer) -> None:
    results = check_server(make_app(sandbox_server, "zoom").client())
    assert failures(results) == []
    assert {r.resource_type for r in results if r.resource_type} == {"User"}


def test_slack_fails_exactly_the_group_patch_and_user_deletion_checks(
    sandbox_server: SandboxServer,
) -> None:
    """Slack's flavour answers PATCH on Groups with 501 while its ServiceProviderConfig says
    `patch.supported` (one flag for the whole service): a checker, like a client, finds out
    per call. And Slack's DELETE /Users/<id> "Sets a Slack user to deactivated" (its SCIM
    reference), where RFC 7644 §3.6 wants a 404 after: the checker's `object_deletion` of a
    User fails, as it would against Slack. Everything else passes."""
    results = check_server(make_app(sandbox_server, "slack").client())
    failed = [r for r in results if r.status in FAILED]
    groups = [r for r in failed if r.resource_type == "Group"]
    users = [r for r in failed if r.resource_type == "User"]
    assert groups and all("PATCH on Groups" in r.reason for r in groups)
    assert [(r.title, "still exists after deletion" in r.reason) for r in users] == [
        ("object_deletion", True)
    ]
    assert len(failed) == len(groups) + len(users)
