"""An auditor verifies an export with the code docs/audit.md gives, not the portal's own: the
export must carry every hashed field, losslessly, and the docs must say how to hash them."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from django.conf import settings

from portal.audit.events import record
from portal.audit.models import AuditEvent
from tests.reports.audit_support import export_url, tampering

DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


@pytest.fixture(scope="module")
def verify_export():
    """The verifier exactly as the docs print it, run with the standard library only."""
    text = DOCS.read_text()
    section = text[text.index("### Verifying an export without the portal") :]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)[:1]
    assert "import portal" not in code and "django" not in code
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102
    return namespace["verify_export"]


@pytest.fixture
def trail(alpha, msp_admin):
    hostile = ["=SUM(1,2)", "'quoted", "-2", "Zoë ✓", "\tTab"]
    for n, text in enumerate(hostile):
        record(
            "tenant.update",
            actor=alpha.technician if n % 2 else msp_admin,
            tenant=alpha.tenant,
            target=("tenants.tenant", text, text),
            before={"name": text, "ratio": 2.0, "n": n, "nested": {"x": [1.5, None, True]}},
            after={"name": "after", "when": "2026-01-01T00:00:00+00:00"},
        )
    record("job.cancel", actor="system", tenant=alpha.tenant, job_id=7)
    return AuditEvent.objects.filter(tenant_id=alpha.tenant.pk).order_by("seq")


def _export(client, tmp_path, msp_admin, name="export.csv") -> Path:
    client.force_login(msp_admin)
    response = client.get(export_url(tenant="alpha"))
    assert response.status_code == 200
    path = tmp_path / name
    path.write_bytes(b"".join(response.streaming_content))
    return path


def _keys() -> dict[str, bytes]:
    return dict(settings.AUDIT_SIGNING_KEYS)


def _rewrite(path: Path, change) -> None:
    body = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(body, newline="")))
    rows = change(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_text("\ufeff" + out.getvalue(), encoding="utf-8")


def test_a_tenant_export_verifies_with_the_documented_code(
    client, tmp_path, trail, msp_admin, verify_export
):
    path = _export(client, tmp_path, msp_admin)
    assert verify_export(str(path), _keys()) == []
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert len(rows) == trail.exclude(action="audit.export").count()  # not its own record
    assert all(r["timestamp_utc"].endswith("+00:00") for r in rows)


def test_an_edited_deleted_or_reordered_export_row_is_named(
    client, tmp_path, trail, msp_admin, verify_export
):
    path = _export(client, tmp_path, msp_admin)
    header = next(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    target, seq = header.index("target"), header.index("seq")

    def edit(rows):
        rows[2][target] = "someone else"
        return rows

    _rewrite(path, edit)
    edited = verify_export(str(path), _keys())
    assert len(edited) == 1 and "edited" in edited[0], edited

    path = _export(client, tmp_path, msp_admin, "deleted.csv")
    _rewrite(path, lambda rows: rows[:3] + rows[4:])
    (gap,) = verify_export(str(path), _keys())
    assert "expected seq" in gap

    path = _export(client, tmp_path, msp_admin, "swapped.csv")

    def swap(rows):  # two rows trade sequence numbers
        rows[1][seq], rows[2][seq] = rows[2][seq], rows[1][seq]
        return rows

    _rewrite(path, swap)
    assert verify_export(str(path), _keys())


def test_a_row_edited_in_the_database_fails_in_its_export(
    client, tmp_path, trail, msp_admin, verify_export
):
    victim = trail[2]
    with tampering() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET actor_username = %s WHERE id = %s",  # noqa: S608
            ["nobody", victim.pk],
        )
    problems = verify_export(str(_export(client, tmp_path, msp_admin)), _keys())
    assert problems == [
        f"chain tenant:{victim.tenant_id} seq {victim.seq}: edited: its content "
        "does not match its hash"
    ]


def test_the_apis_json_events_verify_with_the_same_rules(alpha, msp_admin, verify_export, tmp_path):
    """The API's JSON carries every hashed field, so its events check like the CSV's."""
    from tests.api.conftest import ApiClient, token_for

    record("job.retry", actor=alpha.technician, tenant=alpha.tenant, before={"x": 1.0})
    record("settings.change", actor=msp_admin, target=("settings", 1, "=MSP"))
    items = ApiClient(token_for(msp_admin)).get("/api/v1/audit-events").json()["items"]
    assert {"job.retry", "settings.change"} <= {item["action"] for item in items}
    path = tmp_path / "from-json.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        names = ["actor", "tenant", *sorted(set(items[0]) - {"actor", "tenant"})]
        writer = csv.DictWriter(out, names)
        writer.writeheader()
        for item in items:
            row = {k: "" if v is None else v for k, v in item.items()}
            row["actor"] = item["actor_display"]
            row["tenant"] = item["tenant_name"]
            for key in ("before", "after"):
                row[key] = "" if item[key] is None else json.dumps(item[key])
            writer.writerow(row)
    assert verify_export(str(path), _keys()) == []
