"""docs/api.md cannot rot: its curl session runs against a live portal whose tenant is on
the sandbox, with the session's Celery worker doing the jobs; and every problem type the
API answers with has its section there."""

import re
import subprocess
import uuid
from pathlib import Path

import pytest

from portal.audit.models import AuditEvent
from portal.models import Role
from provisioning.api import problem_types, problems
from provisioning.models import Identity
from tests.factories import make_person
from tests.provisioning.directories import make_directories

from .conftest import token_for

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "api.md"
SETTINGS = ("PORTAL=", "TENANT=", "TOKEN=")


def session_script() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), flags=re.S)
    (session,) = [b for b in blocks if "/offboard" in b and "Idempotency-Key" in b]
    return "\n".join(line for line in session.splitlines() if not line.startswith(SETTINGS))


@pytest.mark.django_db(transaction=True)
def test_the_docs_curl_session_onboards_and_offboards_on_the_sandbox(
    live_server, on_sandbox, worker, tmp_path
):
    dirs = make_directories(on_sandbox, f"apidoc-{uuid.uuid4().hex[:6]}")
    technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    env = {
        "PORTAL": live_server.url,
        "TENANT": dirs.tenant.slug,
        "TOKEN": token_for(technician, name="HaloPSA"),
        "PATH": "/usr/bin:/bin",
    }
    run = subprocess.run(
        ["bash", "-ec", session_script()],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"job \d+ join: succeeded", run.stdout), run.stdout
    assert re.search(r"job \d+ leave: succeeded", run.stdout), run.stdout
    assert "succeeded\t" in run.stdout  # the offboarding's steps, one a line
    person = Identity.objects.get(tenant=dirs.tenant)
    assert (person.display_name, person.attributes["job_title"]) == ("Ada Lovelace", "Analyst")
    user = dirs.entra_user(person.username)
    assert user is not None and user["accountEnabled"] is False
    offboarded = AuditEvent.objects.get(action="identity.offboard")
    assert offboarded.actor_display.endswith("via API token “HaloPSA”")


def test_every_problem_type_the_api_answers_with_has_its_section_in_the_doc():
    sources = [*ROOT.glob("provisioning/api/*.py"), *ROOT.glob("reports/api*.py")]
    kinds = {"400", "500"}  # a body that is not JSON; a crash
    for source in sources:
        kinds |= set(re.findall(r'kind="([a-z0-9-]+)"', source.read_text()))
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', DOC.read_text()))
    prefix = problems.TYPE_BASE.rsplit("#", 1)[1]
    missing = {f"{prefix}{kind}" for kind in kinds} - anchors
    assert not missing, f"docs/api.md has no section for {sorted(missing)}"
    assert {"problem-not-found", "problem-blocked", "problem-conflict"} <= anchors
    # and on the page each problem's `type` leads to
    assert kinds <= set(problem_types.TYPES), sorted(kinds - set(problem_types.TYPES))
