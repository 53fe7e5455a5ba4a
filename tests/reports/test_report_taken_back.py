"""A request granted and later taken back reads so in the report's Outcome: "Revoked" beside
the approver's name and the day of the approval read as if the approver had revoked it
that day, under a "granted" figure that counts it. One revoked before it was given stays
"Revoked"."""

from datetime import timedelta

from reports.report import build_report
from tests.reports.conftest import END, START
from tests.reports.history import access_request, at, job, person


def test_a_grant_taken_back_reads_as_granted_then_revoked(history):
    world = history.world
    created = at("2026-01-13", 9)
    for name, revoked_after in (("Never", 1), ("Given", 5)):
        who = person(world, "Vi", name)
        request = access_request(
            world, who, "revoked", created=created, decided_hours=0.5, granted_hours=3
        )
        request.end_job = job(
            world, who, "revoke", created=created + timedelta(hours=revoked_after), hours=1
        )
        request.save(update_fields=["end_job"])

    rows = {r.person: r.status for r in build_report(world.tenant, START, END).requests}

    assert rows["Vi Given"] == "Granted, since revoked"
    assert rows["Vi Never"] == "Revoked"
