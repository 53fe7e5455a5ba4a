"""The demo SCIM apps (`--seed demo`) and SCIM apps kept across a restart."""

from __future__ import annotations

import uuid
from pathlib import Path

from scim2_models import Group, SearchRequest, User

from sandbox import demo_directories as demo
from tests.sandbox.scim_support import App, make_app
from tests.sandbox.server import SandboxServer, running_sandbox


def demo_app(server: SandboxServer, key: str) -> App:
    spec = demo.SCIM_DEMO[key]
    return App(spec["slug"], f"{server.url}/scim/{spec['slug']}/v2", spec["token"], server)


def test_contoso_slack_holds_some_of_contosos_people_and_channels(
    sandbox_server: SandboxServer,
) -> None:
    slack = demo_app(sandbox_server, "contoso")
    client = slack.client()
    users = client.query(User, query_parameters=SearchRequest(count=100)).resources
    names = [u.user_name for u in users]
    contoso = [n for n in names if n.endswith("@contoso.example")]
    assert len(names) == 6 and len(contoso) == 5
    assert "alex.rivera@studio-agency.example" in names
    groups = {g.display_name: g for g in client.query(Group).resources}
    assert set(groups) == {"All Hands", "Engineering", "Sales"}
    with sandbox_server.control() as control:
        state = control.get(f"/_sandbox/scim-apps/{demo.CONTOSO_SLACK_SLUG}").json()
    assert (state["name"], state["flavour"]) == ("Slack", "slack")


def test_fabrikam_zoom_holds_some_of_fabrikams_people(sandbox_server: SandboxServer) -> None:
    zoom = demo_app(sandbox_server, "fabrikam")
    client = zoom.client()
    users = client.query(User, query_parameters=SearchRequest(count=100)).resources
    assert sum(u.user_name.endswith("@fabrikam.example") for u in users) == 5
    assert len(users) == 6
    with zoom.raw() as raw:
        assert raw.get("/Groups").status_code == 404


def test_scim_apps_survive_a_restart(tmp_path: Path) -> None:
    state_file = str(tmp_path / "state.json")
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        app = make_app(server, "slack")
        made = app.client().create(User(user_name=f"{uuid.uuid4().hex[:6]}@contoso.example"))
    with running_sandbox(tmp_path, "--state-file", state_file) as server:
        again = App(app.slug, f"{server.url}/scim/{app.slug}/v2", app.token, server)
        assert again.client().query(User, made.id).user_name == made.user_name
