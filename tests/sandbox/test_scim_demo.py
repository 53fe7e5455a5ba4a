"""The demo SCIM apps (`--seed demo`) and SCIM apps kept across a restart."""

from __future__ import annotations

import functools
import json
import uuid
from pathlib import Path

from scim2_models import Group, SearchRequest, User

from sandbox import demo_directories as demo
from sandbox.seed import seed_state
from sandbox.server import make_state
from sandbox.state import SandboxState
from tests.sandbox.scim_support import App, make_app
from tests.sandbox.server import SandboxServer, running_sandbox


def demo_app(server: SandboxServer, key: str) -> App:
    spec = demo.SCIM_DEMO[key]
    return App(spec["slug"], f"{server.url}/scim/{spec['slug']}/v2", spec["token"], server)


@functools.cache
def demo_state() -> SandboxState:
    """What `--seed demo` makes (deterministic), seeded here in-process."""
    state = SandboxState()
    seed_state(state, "demo")
    return state


def seeded(slug: str) -> dict:
    return demo_state().scim[slug].to_state()


def served_user_names(client) -> set[str]:
    # The session's sandbox is shared: other tests may have provisioned more people since.
    page = client.query(User, query_parameters=SearchRequest(count=1000))
    return {u.user_name for u in page.resources or []}


def test_contoso_slack_holds_some_of_contosos_people_and_channels(
    sandbox_server: SandboxServer,
) -> None:
    slack = demo_app(sandbox_server, "contoso")
    client = slack.client()
    expected = seeded(demo.CONTOSO_SLACK_SLUG)
    names = {u["userName"] for u in expected["users"]}
    contoso = {n for n in names if n.endswith("@contoso.example")}
    assert len(names) == 6 and len(contoso) == 5
    entra = demo_state().entra[demo.CONTOSO_TENANT_ID]
    upns = {u.props["userPrincipalName"] for u in entra.users.values()}
    assert len(contoso & upns) == 4  # four of Contoso's people, one former intern
    assert names <= served_user_names(client)
    groups = {g.display_name for g in client.query(Group).resources}
    assert {"All Hands", "Engineering", "Sales"} <= groups
    with sandbox_server.control() as control:
        state = control.get(f"/_sandbox/scim-apps/{demo.CONTOSO_SLACK_SLUG}").json()
    assert (state["name"], state["flavour"]) == ("Slack", "slack")


def test_fabrikam_zoom_holds_some_of_fabrikams_people(sandbox_server: SandboxServer) -> None:
    zoom = demo_app(sandbox_server, "fabrikam")
    client = zoom.client()
    names = {u["userName"] for u in seeded(demo.FABRIKAM_ZOOM_SLUG)["users"]}
    assert len(names) == 6
    assert sum(n.endswith("@fabrikam.example") for n in names) == 5  # four people, one room
    assert names <= served_user_names(client)
    with zoom.raw() as raw:
        assert raw.get("/Groups").status_code == 404


def test_northwind_dropbox_holds_some_of_northwinds_people_and_team_folders(
    sandbox_server: SandboxServer,
) -> None:
    dropbox = demo_app(sandbox_server, "northwind")
    client = dropbox.client()
    names = {u["userName"] for u in seeded(demo.NORTHWIND_DROPBOX_SLUG)["users"]}
    entra = demo_state().entra[demo.NORTHWIND_TENANT_ID]
    upns = {u.props["userPrincipalName"] for u in entra.users.values()}
    assert len(names) == 5 and len(names & upns) == 4  # four of its people, one auditor
    assert names <= served_user_names(client)
    groups = {g.display_name for g in client.query(Group).resources}
    assert {"Everyone", "Office", "Warehouse"} <= groups


def test_a_kept_demo_state_gets_the_demo_apps_added_since(tmp_path: Path) -> None:
    """A demo database kept from before Northwind's Dropbox: its state file lacks the app,
    which the portal's seeding now connects to."""
    state_file = tmp_path / "state.json"
    make_state(state_file, "demo")
    saved = json.loads(state_file.read_text())
    saved["scim"] = [a for a in saved["scim"] if a["slug"] != demo.NORTHWIND_DROPBOX_SLUG]
    state_file.write_text(json.dumps(saved))
    again = make_state(state_file, "demo")
    assert set(again.scim) == {s["slug"] for s in demo.SCIM_DEMO.values()}
    added = again.scim[demo.NORTHWIND_DROPBOX_SLUG].to_state()
    expected = seeded(demo.NORTHWIND_DROPBOX_SLUG)
    for kind, key in (("users", "userName"), ("groups", "displayName")):
        assert [r[key] for r in added[kind]] == [r[key] for r in expected[kind]]


def test_scim_apps_survive_a_restart(tmp_path: Path) -> None:
    state_file = str(tmp_path / "state.json")
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        app = make_app(server, "slack")
        made = app.client().create(User(user_name=f"{uuid.uuid4().hex[:6]}@contoso.example"))
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        again = App(app.slug, f"{server.url}/scim/{app.slug}/v2", app.token, server)
        assert again.client().query(User, made.id).user_name == made.user_name
