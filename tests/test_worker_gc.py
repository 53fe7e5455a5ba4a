"""A worker moves what it has loaded into the collector's permanent generation after a task
run that imported modules (portal/celery.py, `freeze_what_was_imported`), so that its full
collections stop walking the SDKs' classes; objects its later runs make are still collected."""

from __future__ import annotations

import gc
import os
import sys
import types
import weakref

import pytest
from celery.signals import task_postrun, task_prerun

import portal.celery
from provisioning.tasks import run_job


@pytest.fixture
def thawed(monkeypatch):
    """This process as a worker (`worker_init` ran), nothing frozen before the test,
    everything thawed after it; the modules loaded now count as seen."""
    gc.unfreeze()
    monkeypatch.setattr(portal.celery, "_worker_pid", os.getpid())
    monkeypatch.setattr(portal.celery, "_modules_when_frozen", len(sys.modules))
    yield
    gc.unfreeze()


def a_task_runs(work=lambda: None) -> None:
    task_prerun.send(sender=run_job, task_id="t", task=run_job, args=(0,), kwargs={})
    work()
    task_postrun.send(sender=run_job, task_id="t", task=run_job, args=(0,), kwargs={})


def import_a_module() -> None:
    sys.modules["tests._imported_by_a_task"] = types.ModuleType("tests._imported_by_a_task")


@pytest.mark.django_db
def test_a_task_run_that_imported_modules_freezes_the_heap(thawed):
    try:
        a_task_runs(import_a_module)
    finally:
        sys.modules.pop("tests._imported_by_a_task", None)
    assert gc.get_freeze_count() > 0


@pytest.mark.django_db
def test_a_task_run_that_imported_nothing_freezes_nothing_and_its_cycles_are_collected(thawed):
    class Node:
        pass

    made = []

    def make_a_cycle() -> None:
        cycle = Node()
        cycle.itself = cycle
        made.append(weakref.ref(cycle))

    a_task_runs(make_a_cycle)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert made[0]() is None


@pytest.mark.django_db
def test_outside_a_worker_a_task_run_freezes_nothing(thawed, monkeypatch):
    monkeypatch.setattr(portal.celery, "_worker_pid", 0)
    import_a_module()
    try:
        a_task_runs()
    finally:
        sys.modules.pop("tests._imported_by_a_task", None)
    assert gc.get_freeze_count() == 0


@pytest.mark.django_db
def test_an_eager_task_run_freezes_nothing(thawed):
    class Eager:
        request = types.SimpleNamespace(is_eager=True)

    import_a_module()
    try:
        task_postrun.send(sender=Eager, task_id="t", task=run_job, args=(0,), kwargs={})
    finally:
        sys.modules.pop("tests._imported_by_a_task", None)
    assert gc.get_freeze_count() == 0
