"""A licence swap is one step (set_licenses): the report's licence moves still see each SKU."""

from reports.report import _licence_moves
from tests.reports.history import at, job, person


def test_a_licence_swap_moves_each_sku(alpha):
    swap = ("set_licenses", "add EMS; remove SPE_E3", "succeeded")
    done = job(
        alpha,
        person(alpha, "Sid", "Swap"),
        "change",
        created=at("2026-01-06"),
        hours=1,
        steps=[swap],
    )
    params = {"add": ["ems-id"], "remove": ["e3-id"], "added": ["EMS"], "removed": ["SPE_E3"]}
    done.steps.update(params=params)
    moves = _licence_moves(alpha.tenant, at("2026-01-01"))
    assert {name: [delta for _, delta in m] for name, m in moves.items()} == {
        "EMS": [1],
        "SPE_E3": [-1],
    }
