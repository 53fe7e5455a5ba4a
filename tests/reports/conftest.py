"""A fortnight of hand-built history in tenant A, with every figure of its report known."""

from dataclasses import dataclass
from datetime import date

import pytest
from django.core.cache import caches

from reports import licences
from reports.licences import SkuSeats, Snapshot
from tests.caches import forget
from tests.reports.history import access_request, at, job, person

START, END = date(2026, 1, 5), date(2026, 1, 18)  # Monday 5 to Sunday 18 January 2026
ASSIGN, REMOVE = "assign_license", "remove_license"


@pytest.fixture(autouse=True)
def no_licence_readings():
    """Connection ids repeat between tests: a reading stored by one must not show in the next."""
    forget_licence_readings()
    yield
    forget_licence_readings()


def forget_licence_readings() -> None:
    """This test process's readings only (the snapshots cache's keys carry its prefix)."""
    forget(caches["snapshots"], "*")


@dataclass
class History:
    world: object
    failed_job: object
    scheduled_joiner: object


@pytest.fixture
def history(alpha, bravo) -> History:
    """Joiners done in 1, 2 and 4 h (the last one scheduled); one partly failed joiner; movers
    in 1 and 3 h, and a start-date enabling that is no mover; leavers in 0.5 and 10 h (the
    second run twice); four decided access requests and one pending; noise outside the
    period and in tenant B."""
    w = alpha
    ada, ben, cleo, dev = (person(w, f, "Joiner") for f in ("Ada", "Ben", "Cleo", "Dev"))
    eli, fay = person(w, "Eli", "Mover"), person(w, "Fay", "Mover")
    gus, hana = person(w, "Gus", "Leaver", "left"), person(w, "Hana", "Leaver", "left")
    lic = [(ASSIGN, "SPE_E3", "succeeded")]
    job(w, ada, "join", created=at("2026-01-05", 9), hours=1, steps=lic)
    job(w, ben, "join", created=at("2026-01-07", 10), hours=2, steps=lic)
    scheduled = job(
        w,
        cleo,
        "join",
        created=at("2026-01-02", 9),
        not_before=at("2026-01-14", 8),
        hours=4,
        steps=lic,
    )
    failed = job(
        w,
        dev,
        "join",
        created=at("2026-01-08", 9),
        hours=0.25,
        status="partial",
        steps=[("create_user", "dev.joiner@alpha.test", "succeeded"), (ASSIGN, "SPE_E3", "failed")],
    )
    job(w, eli, "change", created=at("2026-01-06", 9), hours=1)
    job(w, fay, "change", created=at("2026-01-13", 9), hours=3)
    job(
        w,
        ada,
        "change",
        created=at("2026-01-01", 9),
        not_before=at("2026-01-12", 0),
        hours=0.1,
        options={"enable": True},
    )
    job(
        w,
        gus,
        "leave",
        created=at("2026-01-09", 15),
        hours=0.5,
        steps=[(REMOVE, "SPE_E3", "succeeded")],
    )
    job(
        w,
        hana,
        "leave",
        created=at("2026-01-15", 9),
        hours=10,
        runs=2,
        steps=[(REMOVE, "SPE_E3", "succeeded")],
    )
    job(w, person(w, "Ivo", "Early"), "join", created=at("2026-01-04", 9), hours=1, steps=lic)
    job(bravo, bravo.identity, "join", created=at("2026-01-06", 9), hours=1, steps=lic)

    admin = w.client_admin
    access_request(
        w,
        ada,
        "granted",
        created=at("2026-01-06", 9),
        decided_hours=1,
        granted_hours=2,
        decider=admin,
    )
    access_request(
        w,
        ben,
        "ended",
        created=at("2026-01-08", 9),
        decided_hours=3,
        granted_hours=6,
        decider=admin,
    )
    access_request(w, eli, "denied", created=at("2026-01-09", 9), decided_hours=5, decider=admin)
    access_request(w, fay, "expired", created=at("2026-01-02", 9), decided_hours=7 * 24)
    access_request(w, dev, "pending", created=at("2026-01-16", 9))
    return History(w, failed, scheduled)


def read_licences(world, consumed: int = 10, total: int = 25, when=None) -> None:
    """As if the directory had been read on 20 January: SPE_E3 with these seats."""
    licences.store(
        Snapshot(
            world.connection.pk,
            when or at("2026-01-20", 9),
            (SkuSeats("SPE_E3", total, consumed),),
            tried_at=when or at("2026-01-20", 9),
        )
    )
