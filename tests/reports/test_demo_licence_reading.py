"""The demo's licence seats are read again once its history's accounts are made."""

import pytest

from provisioning import demo_accounts, tasks
from provisioning.inventory import tasks as inventory_tasks
from reports import tasks as report_tasks

pytestmark = pytest.mark.django_db


def test_the_seats_are_read_again_once_the_demo_accounts_are_made(monkeypatch):
    """newcomer24: the first reading, taken as `seed_demo_history` ended, came before the worker
    gave the history's people their accounts (and their licences): for 15 minutes the
    dashboard showed Northwind's Microsoft 365 E3 "53 free of 60" where the directory said
    50, and the report's *Licence seats in use* (used 7) disagreed with its own *Licence
    waste* (assigned 10)."""
    monkeypatch.setattr(demo_accounts, "seed_accounts", lambda **kwargs: {"northwind": 26})
    monkeypatch.setattr(inventory_tasks.refresh_inventory_after, "delay", lambda *a, **k: None)
    readings = []
    monkeypatch.setattr(
        report_tasks.refresh_licence_snapshots, "delay", lambda *a, **k: readings.append(a)
    )

    assert tasks.seed_demo_accounts() == {"northwind": 26}
    assert readings == [()], "no reading of every directory's seats after the accounts"
