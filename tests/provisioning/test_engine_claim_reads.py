"""A run's claim and the reads of its first round: the tenant's connections, role templates
and attribute mappings kept across runs by the tenant's `config_version` (which database
triggers renew on any write of those rows, signals or not), the person's own rows read with
the claim, and the claim's answers when the job cannot run yet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from portal import kept_sql
from portal.audit import events as audit_events
from portal.audit.events import record
from portal.audit.models import AuditEvent
from portal.audit.verify import verify_all
from provisioning.engine import desired, executor, memo, serial
from provisioning.engine.accounts import accounts_of
from provisioning.engine.serial import claiming
from provisioning.engine.tasks import run_job
from provisioning.models import DirectoryAccount, Identity, Job
from provisioning.models_access import AccessRequest, RequestableResource
from tenants.models import AttributeMapping, DirectoryConnection, RoleTemplate, Tenant
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories
from tests.provisioning.test_engine_statements import onboard, statements


def _version(tenant: Tenant):
    return Tenant.objects.values_list("config_version", flat=True).get(pk=tenant.pk)


@pytest.mark.django_db
def test_every_write_of_a_tenants_configuration_gives_it_a_new_version():
    tenant = Tenant.objects.create(name="Cfg", slug="cfg", primary_domain="cfg.example")
    seen = [_version(tenant)]

    def renewed(what: str) -> None:
        now = _version(tenant)
        assert now not in seen, what
        seen.append(now)

    entra = DirectoryConnection(tenant=tenant, kind="entra", directory_id="d", client_id="c")
    entra.set_secret("not-shown")
    entra.save()
    renewed("a connection added")
    DirectoryConnection.objects.filter(pk=entra.pk).update(rate_burst=7)  # no signal
    renewed("a connection's queryset update")
    template = RoleTemplate.objects.create(tenant=tenant, name="Sales", groups=["Staff"])
    renewed("a template added")
    template.groups = ["Staff", "Sales"]
    RoleTemplate.objects.bulk_update([template], ["groups"])
    renewed("a template's bulk update")
    AttributeMapping.objects.bulk_create(
        [AttributeMapping(tenant=tenant, target="entra", attribute="office", expression="x")]
    )
    renewed("a mapping's bulk insert")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tenants_attributemapping SET expression = %s WHERE tenant_id = %s",
            ["y", tenant.pk],
        )
    renewed("raw SQL")
    stale = Tenant.objects.get(pk=tenant.pk)  # read before the next change, saved after it
    AttributeMapping.objects.filter(tenant=tenant).delete()
    renewed("a mapping deleted")
    stale.notes = "saved from an old read"
    stale.save()
    renewed("the tenant saved with the version of before")
    RoleTemplate.objects.filter(pk=template.pk).delete()
    renewed("a template deleted")
    entra.delete()
    renewed("a connection deleted")


@pytest.mark.django_db(transaction=True)
def test_a_run_uses_the_kept_configuration_only_while_nothing_changed(on_sandbox, monkeypatch):
    """The warm run reads none of the tenant's configuration; a change written by a queryset
    update (no signal) is read by the next run, and kept again."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "cfgkept", groups=["Staff"])
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED
    config = (
        '"tenants_directoryconnection"',
        '"tenants_roletemplate"',
        '"tenants_attributemapping"',
    )

    def reads_of_config(run: CaptureQueriesContext) -> list[str]:
        return [
            sql
            for sql in statements(run)
            if sql.startswith("SELECT") and any(f"FROM {table}" in sql for table in config)
        ]

    with CaptureQueriesContext(connection) as warm:
        kept = drive(onboard(dirs, "Ada", "Lovelace"))
    assert kept.status == Job.Status.SUCCEEDED, kept.error
    assert not reads_of_config(warm), reads_of_config(warm)

    RoleTemplate.objects.filter(pk=dirs.template.pk).update(department="Research")
    with CaptureQueriesContext(connection) as changed:
        job = drive(onboard(dirs, "Grace", "Hopper"))
    assert job.status == Job.Status.SUCCEEDED, job.error
    create = job.steps.get(action="create_user")
    assert create.params["attributes"]["department"] == "Research"
    assert len(reads_of_config(changed)) == 3, reads_of_config(changed)

    with CaptureQueriesContext(connection) as again:
        assert drive(onboard(dirs, "Alan", "Turing")).status == Job.Status.SUCCEEDED
    assert not reads_of_config(again), reads_of_config(again)


@pytest.mark.django_db(transaction=True)
def test_a_claim_behind_an_older_job_names_it_and_claims_nothing(on_sandbox, monkeypatch):
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "cfgahead", groups=["Staff"])
    first = onboard(dirs, "Ada", "Lovelace")
    later = Job.objects.create(
        tenant=dirs.tenant, identity=first.identity, kind=Job.Kind.CHANGE, desired_version=1
    )

    assert executor.execute(later.pk).then == first.pk
    later.refresh_from_db()
    assert later.status == Job.Status.QUEUED and later.runs == 0
    assert later.waiting_reason == f"After Join #{first.pk}"

    # The older one runs; while its lease is live, the later one waits without a next job.
    Job.objects.filter(pk=first.pk).update(
        status=Job.Status.RUNNING, lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert serial.claim(later.pk, 60) == (None, None)
    Job.objects.filter(pk=first.pk).update(status=Job.Status.SUCCEEDED, lease_until=None)
    job, blocker = serial.claim(later.pk, 60)
    assert blocker is None and job is not None and job.pk == later.pk
    assert (job.status, job.runs, job.waiting_reason) == (Job.Status.RUNNING, 1, "")
    assert job.lease_until > timezone.now() and job.started_at is not None
    # Read with the job, as the run uses them: no statement for any of these.
    with CaptureQueriesContext(connection) as reads:
        assert job.tenant.pk == dirs.tenant.pk and job.requested_by is None
        assert isinstance(job.identity, Identity) and job.identity.pk == first.identity_id
    assert not reads.captured_queries
    assert serial.claim(later.pk, 60) == (None, None)  # held: not claimed twice
    Job.objects.filter(pk=later.pk).update(status=Job.Status.CANCELLED, lease_until=None)


@pytest.mark.django_db(transaction=True)
def test_the_persons_rows_read_with_the_claim_are_those_the_tables_hold(on_sandbox, monkeypatch):
    """The person's accounts (times and JSON included), live grants and templates, as the
    run uses them after its claim, equal separate reads of them; and are no statement."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "cfgrows", groups=["Staff"])
    job = onboard(dirs, "Ada", "Lovelace")
    person = job.identity
    entra = dirs.tenant.connections.get()
    now = timezone.now()
    account = DirectoryAccount.objects.create(
        identity=person,
        connection=entra,
        remote_id="r-1",
        created_remotely_at=now,
        managed={"groups": [{"id": "g", "name": "Staff"}]},
        last_seen={"at": "x"},
    )
    for kind, name in [("group", "VPN"), ("app", "Wiki"), ("group", "Gone")]:
        resource = RequestableResource.objects.create(
            tenant=dirs.tenant, connection=entra, kind=kind, remote_id=f"id-{name}", name=name
        )
        AccessRequest.objects.create(
            tenant=dirs.tenant,
            identity=person,
            resource=resource,
            reason="r",
            status="pending" if name == "Gone" else AccessRequest.Status.GRANTED,
        )

    with memo.one_run():
        claimed, _ = serial.claim(job.pk, 60)
        assert claimed is not None
        if connection.vendor == "postgresql":
            with CaptureQueriesContext(connection) as reads:
                accounts = accounts_of(claimed.identity)
                grants = desired._live_grants(claimed.identity)
            assert not reads.captured_queries
        else:
            accounts, grants = accounts_of(claimed.identity), desired._live_grants(claimed.identity)
        templates = desired._templates(claimed.identity)
        Job.objects.filter(pk=job.pk).update(status=Job.Status.CANCELLED, lease_until=None)

    (kept,) = accounts.values()
    stored = DirectoryAccount.objects.get(pk=account.pk)
    for f in DirectoryAccount._meta.concrete_fields:
        assert getattr(kept, f.attname) == getattr(stored, f.attname), f.name
    assert kept.identity_id == claimed.identity.pk
    assert grants == desired.live_grants_by_person(identity=person)
    assert sorted(g["name"] for g in grants[(person.pk, entra.pk)]) == ["VPN", "Wiki"]
    assert [t.pk for t in templates] == [t.pk for t in person.role_templates.all()]


@pytest.mark.django_db(transaction=True)
def test_an_append_after_the_claims_read_of_the_audit_head_chains_on_it(on_sandbox, monkeypatch):
    """On PostgreSQL the claim reads the tenant's audit chain head (unlocked) as the guess of
    the run's first append. Another process appends after that read: the run's events follow
    the other's, and the chain verifies."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "headguess", groups=["Staff"])
    job = onboard(dirs, "Kit", "Marlowe")
    others: list[AuditEvent] = []
    claim = serial.claim

    def claim_then_append_elsewhere(job_id, lease_seconds):
        claimed = claim(job_id, lease_seconds)
        guessed = dict(audit_events._known_heads)
        others.append(record("tenant.update", actor="system", tenant=dirs.tenant))
        audit_events._known_heads.clear()  # as another process's append: not remembered here
        audit_events._known_heads.update(guessed)
        return claimed

    monkeypatch.setattr(serial, "claim", claim_then_append_elsewhere)
    audit_events.forget_known_heads()
    job = drive(job)

    assert job.status == Job.Status.SUCCEEDED, job.error
    (other,) = others
    after = AuditEvent.objects.filter(tenant_id=dirs.tenant.pk, seq__gt=other.seq)
    first = after.order_by("seq").first()
    assert first is not None and first.job_id == str(job.pk)
    assert first.prev_hash == other.hash
    assert verify_all().ok


@pytest.mark.django_db
def test_a_claims_statement_is_built_once_and_each_claim_sends_its_own_values(
    on_sandbox, monkeypatch
):
    """PostgreSQL keeps the claim's statement (portal/kept_sql.py): the next claims do not
    build its querysets again, and each claims its own job, sees the jobs ahead of its own
    person and reads its own person's rows. SQLite builds them for every claim."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    kept_sql.forget()
    built = []
    monkeypatch.setattr(serial, "claiming", lambda *a: built.append(a) or claiming(*a))
    dirs = make_directories(on_sandbox, "cfgshape", groups=["Staff"])
    ada, alan = onboard(dirs, "Ada", "Lovelace"), onboard(dirs, "Alan", "Turing")
    later = Job.objects.create(
        tenant=dirs.tenant, identity=alan.identity, kind=Job.Kind.CHANGE, desired_version=1
    )

    job, _ = serial.claim(ada.pk, 60)
    assert job.pk == ada.pk and job.identity.pk == ada.identity_id
    first = len(built)
    assert serial.claim(later.pk, 60) == (None, alan.pk)  # Alan's join is ahead of it
    with memo.one_run():
        job, _ = serial.claim(alan.pk, 60)
        assert (job.pk, job.status, job.runs) == (alan.pk, Job.Status.RUNNING, 1)
        assert job.identity.pk == alan.identity_id and job.identity.first_name == "Alan"
        assert job.lease_until > timezone.now()
        assert accounts_of(job.identity) == {}
    assert len(built) == (first if connection.vendor == "postgresql" else first + 2)
    assert serial.claim(ada.pk, 60) == (None, None)  # held: not claimed twice
    Job.objects.update(status=Job.Status.CANCELLED, lease_until=None)


@pytest.mark.django_db(transaction=True)
def test_a_template_changed_while_a_job_waits_is_the_one_its_next_run_converges(
    on_sandbox, monkeypatch
):
    """A join's first run sends the template's groups and waits for a read-back that has
    not caught up; meanwhile the template is changed (a queryset update: no signal). The
    run that takes the job up again must plan from the template as it is now, not from the
    rows the worker kept for the version before (memo.across_runs): the account ends with
    the new template's groups, and the one the change took away is removed."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "cfgwait", groups=["Staff", "Sales"])
    assert drive(onboard(dirs, "Warm", "Up")).status == Job.Status.SUCCEEDED  # rows kept
    dirs.behave("entra", read_lag_ms=60_000)
    join = onboard(dirs, "Ada", "Lovelace")
    executor.execute(join.pk)
    join.refresh_from_db()
    assert join.status == Job.Status.WAITING, (join.status, join.error)
    assert "replication" in join.waiting_reason, join.waiting_reason
    RoleTemplate.objects.filter(pk=dirs.template.pk).update(groups=["Staff", "VPN Users"])
    dirs.behave("entra", read_lag_ms=0)
    assert drive(join).status == Job.Status.SUCCEEDED, join.error
    user = dirs.entra_user(join.identity.username)
    assert sorted(g for g in user["groups"] if "dynamic" not in g) == ["Staff", "VPN Users"]
