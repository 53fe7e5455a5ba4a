"""Celery tasks (found here by autodiscovery): the engine's, and the clocks of the features
that beat runs. They take primitive ids, are enqueued on commit, and are safe to run twice."""

from celery import shared_task
from celery.concurrency import get_implementation
from celery.signals import worker_init

from portal import signin
from provisioning import demo_accounts, periodic, refusals
from provisioning.access import services as access_requests
from provisioning.connectors import factory
from provisioning.engine.tasks import resume_stalled_jobs, run_job
from provisioning.lifecycle import leave_retries
from provisioning.lifecycle import services as lifecycle

__all__ = [
    "access_request_clock",
    "seed_demo_accounts",
    "reconcile_due_people",
    "resume_stalled_jobs",
    "run_job",
    "start_due_jobs",
    "summarise_unrecorded_events",
]


@shared_task(ignore_result=True)
def start_due_jobs() -> int:
    """Scheduled joiners, leavers and deletions whose time has come (run by beat)."""
    return lifecycle.start_due_jobs()


@shared_task(ignore_result=True)
def summarise_unrecorded_events() -> int:
    """How many refusals of each machine endpoint, and how many security events (failed
    sign-ins, refused requests), a budget kept off the trail in each ended minute, on the
    trail (run by beat)."""
    return refusals.summarise_unrecorded() + signin.summarise_unrecorded()


@shared_task(ignore_result=True)
def access_request_clock() -> dict:
    """Grants that end, stale requests that expire, notices of ends to come (run by beat)."""
    return {
        "ended": access_requests.end_due_grants(),
        "expired": access_requests.expire_stale_requests(),
        "notices": access_requests.send_expiry_notices(),
    }


@shared_task(ignore_result=True)
def reconcile_due_people() -> int:
    """This tick's share of the periodic reconciliation, and the failed leaves due for their
    automatic retry, first: a check queued for the leaver would make the retry wait (run by
    beat)."""
    retried = leave_retries.retry_due_leaves()
    return retried + periodic.reconcile_due_people()


@shared_task(ignore_result=True)
def seed_demo_accounts() -> dict:
    """The demo history's people get their sandbox accounts, then every demo connection's
    inventory is read, so the People page and the drift report show them (`make demo`)."""
    from celery.worker import state as worker_state

    from provisioning.inventory.tasks import refresh_inventory_after
    from tenants.models import DirectoryConnection

    def stopping() -> bool:  # Ctrl-C on the demo: stop between people, not after all of them
        return worker_state.should_stop is not None or worker_state.should_terminate is not None

    made = demo_accounts.seed_accounts(stopping=stopping)
    if stopping():
        return made
    # Beat may have started a connection's first read while the accounts were being made:
    # this read follows it, so that it finds them and their drift. Their apps too: that
    # first read has noted every app's assignments as read, so an incremental read would
    # leave them for INVENTORY_APPS_SECONDS and each app would be drift ("Should hold").
    for connection in DirectoryConnection.objects.filter(tenant__slug__in=demo_accounts.SLUGS):
        refresh_inventory_after.delay(connection.pk, every_app=True)
    demo_accounts.accounts_made()
    return made


@worker_init.connect
def warm_connectors(sender=None, **kwargs) -> None:
    """A worker imports every connector as it starts, not in its first job of each kind (the
    okta SDK alone is seconds of CPU, under the GIL that the other tasks wait on). A pool
    that forks gets them before it forks, so its children share one import instead of each
    paying for its own; a pool of threads gets them in the background."""
    pool = getattr(sender, "pool_cls", None)
    if isinstance(pool, str):
        pool = get_implementation(pool)
    if pool is None or pool.__module__.endswith("prefork"):  # Celery's default pool
        factory.import_every_kind()
    else:
        factory.warm_in_background()
