import pytest

from provisioning.alerts import tasks


@pytest.fixture
def mail_on_commit(django_capture_on_commit_callbacks, monkeypatch):
    """Run what is deferred to the commit; the alert task runs here instead of on a broker,
    jobs are not sent to one."""
    monkeypatch.setattr("provisioning.tasks.run_job.delay", lambda job_id: None)
    monkeypatch.setattr(tasks.send_event_alerts, "delay", tasks.send_event_alerts)

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run
