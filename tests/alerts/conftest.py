import pytest

from provisioning.alerts import tasks
from provisioning.engine import outcomes
from provisioning.events.models import Event
from provisioning.events.publish import emit


@pytest.fixture
def mail_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    """Run what is deferred to the commit; the alert task runs here instead of on a broker,
    jobs are not sent to one."""
    monkeypatch.setattr("provisioning.tasks.run_job.delay", lambda job_id: None)
    monkeypatch.setattr(tasks.send_event_alerts, "delay", tasks.send_event_alerts)

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def _job_event(job, status: str) -> None:
    """The engine's job.failed/job.partial, until the outbound-webhooks branch emits them
    from the engine itself: then this finds its event and adds none."""
    kind = {"failed": Event.Kind.JOB_FAILED, "partial": Event.Kind.JOB_PARTIAL}.get(status)
    if kind and not Event.objects.filter(kind=kind, data__job__id=job.pk).exists():
        emit(kind, tenant=job.tenant, data={"job": {"id": job.pk, "kind": job.kind}})


@pytest.fixture
def job_events():
    outcomes.on_job_finished(_job_event)
