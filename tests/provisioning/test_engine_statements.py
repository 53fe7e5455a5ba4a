"""What a warm onboarding costs the database, counted statement by statement: the submit
(person, job, audit event) and the one worker run that plans, writes, verifies and ends it.
The figures are deterministic (no timing): a change that adds a query per step or per job
shows here, with the statements listed."""

from __future__ import annotations

from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.audit.events import forget_known_heads
from portal.audit.models import AuditEvent
from provisioning import services
from provisioning.engine import executor
from provisioning.engine.tasks import run_job
from provisioning.models import Job
from tests.provisioning.conftest import drive
from tests.provisioning.directories import make_directories

# Ceilings for the warm onboarding below (1 licence, 5 groups, 1 app on one Entra directory):
# (the submit, the worker's run). PostgreSQL appends to the audit chain in one statement
# fewer (portal/audit/events.py); an append after the process's own (the run's second to
# fourth) skips the locked read of the head. The tenant's first sign-in and scope policies
# (the scope for the verdict of the account row the verification read makes,
# inventory.service.record_account_read) come with the claim's read of the job
# (memo.read_with_tenant), not in statements of their own. On PostgreSQL the round's steps
# are inserted by the statement that marks the job planned (executor._write_round), a new
# account's row by the statement of its create's intent, and the account's record (its id,
# the access given) by the statement of the steps' outcomes, which also asks the inventory
# whose person holds the new id and rides in their audit append (accounts.inserted_with,
# accounts.record_of, events.Riding).
# The tenant's connections, role templates and attribute mappings are kept across runs by
# the tenant's configuration version (memo.across_runs): the warm run reads none of them. On
# PostgreSQL the claim after the person's lock is one statement that also reads the job with
# its tenant, person and requester, and the person's template ids, grants and accounts
# (engine/claim_read.py): the claim and the first round's reads, 9 statements, are 2. That
# statement reads the tenant's audit chain head too (unlocked), the guess of the run's first
# append (events.guess_head): the run reads no head under lock unless another appended since.
# The round's steps and the job's planned mark ride in the plan's audit append
# (executor._write_round, events.Riding): 17 on PostgreSQL before.
# The verifying read asks no guard of the account when the statement of its last outcomes
# found no inventory row of it (guards.judged_exists_sql, accounts.record_of): 16 before.
# The submit's new person (the inventory's row) rides in the identity's INSERT statement,
# keyed by the rule the warm-up's submit read (inventory.matching.person_riding_with): 3 before.
# The job.succeeded event (outbound) rides in the end's audit append (publish.held): 15
# before (engine19).
STATEMENTS = {"postgresql": (2, 14), "sqlite": (8, 35)}
# The worker's runs of a warm Okta onboarding (5 groups, 1 app): 58 on PostgreSQL and 68 on
# SQLite while each group and app step was a batch of its own (an intent, an outcome, an
# audit append and the account's `managed` each).
# 21 on PostgreSQL before the plan rode in its append and the verifying read's guard was asked
# by the outcomes' statement (sql1); 19 and 39 before the account's built-in groups (Everyone)
# came with the read of its groups instead of the inventory's catalogue (sql17).
# 18 before the job.succeeded event rode in the end's audit append (engine19).
OKTA_STATEMENTS = {"postgresql": 17, "sqlite": 38}


def onboard(dirs, first: str, last: str) -> Job:
    request = services.OnboardingRequest(
        first_name=first, last_name=last, role_templates=[dirs.template]
    )
    username = f"{first}.{last}@{dirs.tenant.primary_domain}".lower()
    return services.request_onboarding(dirs.tenant, request, username=username, actor="system")


def statements(context: CaptureQueriesContext) -> list[str]:
    """What the database was sent, as the bench counts it: without the BEGIN and COMMIT
    that psycopg sends itself (savepoints count), and without the token buckets and
    quarantine windows, which live in Redis wherever `REDIS_URL` is set (the tests keep
    them in the database)."""
    return [
        q["sql"]
        for q in context.captured_queries
        if q["sql"] not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT")
        and '"provisioning_connectionbucket"' not in q["sql"]
    ]


def listing(sent: list[str]) -> str:
    shapes = Counter(sql[:110] for sql in sent)
    return "\n".join(f"{n:3} {sql}" for sql, n in shapes.most_common())


@pytest.mark.django_db(transaction=True)
def test_a_warm_onboarding_stays_within_its_statements(on_sandbox, monkeypatch):
    # The jobs run here, counted; a session worker that an earlier test of this process
    # started would otherwise be sent them too, and claim one first now and then.
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox,
        "stmts",
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    warm_up = drive(onboard(dirs, "Warm", "Up"))
    assert warm_up.status == Job.Status.SUCCEEDED, warm_up.error

    # The submit (a web process) and the run (a worker) each start as a process that did not
    # write the tenant's audit chain last: their first append reads the head under lock.
    forget_known_heads()
    with CaptureQueriesContext(connection) as submit:
        job = onboard(dirs, "Grace", "Hopper")
    forget_known_heads()
    with CaptureQueriesContext(connection) as run:
        executor.execute(job.pk)

    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    # The person's status and reconciliation time, saved together at the job's end.
    assert job.identity.status == "active" and job.identity.last_reconciled_at is not None
    assert job.identity.inventory_person.enabled
    submitted, ran = statements(submit), statements(run)
    print(f"\nsubmit {len(submitted)}:\n{listing(submitted)}\n\nworker {len(ran)}:\n{listing(ran)}")
    submit_ceiling, worker_ceiling = STATEMENTS[connection.vendor]
    assert len(submitted) <= submit_ceiling, listing(submitted)
    assert len(ran) <= worker_ceiling, listing(ran)
    policies = ('SELECT "first_sign_in_firstsigninpolicy"', 'SELECT "inventory_policy"')
    assert not [sql for sql in ran if sql.startswith(policies)], listing(ran)
    # The person is read whole once, by the end's lock (which tells a newer ask): the
    # verifying round reads them no more.
    whole = 'SELECT "provisioning_identity"."id", "provisioning_identity"."tenant_id"'
    assert len([sql for sql in ran if sql.startswith(whole)]) == 1, listing(ran)
    # No endpoint could hear the job.succeeded (the event's INSERT asked): none read after.
    endpoints = [sql for sql in ran if sql.startswith('SELECT "outbound_webhookendpoint"')]
    assert not endpoints, listing(ran)
    if connection.vendor == "postgresql":
        # The submit's identity, role templates, job and the inventory's person go in one
        # statement that also reads the takeover policy and the audit chain's head, the
        # append's guess (services._insert_joiner): no locked read of the head.
        alone = (
            'INSERT INTO "provisioning_job"',
            'INSERT INTO "provisioning_identity_role',
            'INSERT INTO "inventory_person"',
            'SELECT "audit_auditchainhead"',
        )
        assert not [sql for sql in submitted if sql.startswith((*alone, *policies))], listing(
            submitted
        )
    if connection.vendor == "postgresql":  # the job.succeeded event: in the end's append
        events = [sql for sql in ran if 'INSERT INTO "events_event"' in sql]
        assert len(events) == 1 and 'INSERT INTO "audit_auditevent"' in events[0], listing(ran)
    if connection.vendor == "postgresql":  # the plan's job UPDATE rides with its steps
        planned = [sql for sql in ran if 'UPDATE "provisioning_job" SET "planned"' in sql]
        assert len(planned) == 1, listing(ran)
        # in the statement of the plan's append, not one of its own
        assert 'INSERT INTO "audit_auditevent"' in planned[0], listing(ran)
        assert not account_writes_alone(ran), listing(ran)
        # and the person's status and reconciliation time ride with the job's end
        person = [sql for sql in ran if sql.startswith('UPDATE "provisioning_identity"')]
        assert not person, listing(ran)
    # The tenant's configuration, kept across runs (the warm-up read it for its version).
    config = ("tenants_directoryconnection", "tenants_roletemplate", "tenants_attributemapping")
    assert not [sql for sql in ran if sql.startswith(tuple(f'SELECT "{t}"' for t in config))], (
        listing(ran)
    )
    if connection.vendor == "postgresql":  # the claim after the person's lock: one statement
        claim = (
            'UPDATE "provisioning_job" SET "status" = \'running\'',
            'SELECT "provisioning_job"."id" AS "pk", "provisioning_job"."status"',  # jobs ahead
        )
        person = (
            "provisioning_directoryaccount",
            "provisioning_accessrequest",
            "provisioning_identity_role_templates",
        )
        separate = [
            sql for sql in ran if sql.startswith((*claim, *(f'SELECT "{t}"' for t in person)))
        ]
        assert not separate, listing(ran)
        claimed = [
            sql for sql in ran if sql.startswith('WITH claimed AS (UPDATE "provisioning_job"')
        ]
        assert len(claimed) == 1, listing(ran)
        heads = [sql for sql in ran if sql.startswith('SELECT "audit_auditchainhead"')]
        assert not heads, listing(ran)
        # The scope's check of the created account, asked by its outcomes' statement.
        judged = 'SELECT "inventory_account"."id", "inventory_account"."tenant_id"'
        assert not [sql for sql in ran if sql.startswith(judged)], listing(ran)


def account_writes_alone(sent: list[str]) -> list[str]:
    """The account's row, the inventory's owner of its new id and the steps' outcomes, each
    in a statement of its own: on PostgreSQL they ride with the steps' intent, and with the
    audit append of the outcomes."""
    alone = (
        'INSERT INTO "provisioning_directoryaccount"',
        'UPDATE "provisioning_directoryaccount"',
        'SELECT "inventory_person"."identity_id"',
        'UPDATE "provisioning_step" SET "status" = v.column2',
    )
    outcomes_apart = [
        sql for sql in sent if sql.startswith("WITH outcomes AS") and "advanced_head" not in sql
    ]
    return [sql for sql in sent if sql.startswith(alone)] + outcomes_apart


@pytest.mark.django_db(transaction=True)
def test_a_verified_job_settles_the_asks_behind_it_and_names_the_next_from_one_read(
    on_sandbox, monkeypatch
):
    """The job's end reads the person's jobs behind it once: a queued ask of no later state is
    settled by the verification, the person's own work (a leave) and a waiting job are not,
    and the oldest of those is the job to start next."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(on_sandbox, "behind", groups=["Staff"])
    join = onboard(dirs, "Ada", "Lovelace")
    behind = {
        kind: Job.objects.create(
            tenant=dirs.tenant,
            identity=join.identity,
            kind=kind,
            status=status,
            desired_version=join.desired_version,
        )
        for kind, status in [
            (Job.Kind.CHANGE, Job.Status.QUEUED),
            (Job.Kind.LEAVE, Job.Status.QUEUED),
            (Job.Kind.RECONCILE, Job.Status.WAITING),
        ]
    }

    with CaptureQueriesContext(connection) as run:
        outcome = executor.execute(join.pk)

    join.refresh_from_db()
    assert join.status == Job.Status.SUCCEEDED, join.error
    change = Job.objects.get(pk=behind[Job.Kind.CHANGE].pk)
    assert change.status == Job.Status.SUCCEEDED and change.verification["by_job"] == join.pk
    assert Job.objects.get(pk=behind[Job.Kind.LEAVE].pk).status == Job.Status.QUEUED
    assert Job.objects.get(pk=behind[Job.Kind.RECONCILE].pk).status == Job.Status.WAITING
    assert outcome.then == behind[Job.Kind.LEAVE].pk
    sent = statements(run)
    reads_behind = [  # the person's queued jobs, read at the job's end
        sql
        for sql in sent
        if sql.startswith('SELECT "provisioning_job"')
        and "'running'" not in sql
        and "queued" in sql
    ]
    assert len(reads_behind) == 1, "\n".join(reads_behind)
    # The settled job's `job.finish` and the join's own go to the audit chain in one append.
    at_the_end = sent[sent.index(reads_behind[0]) :]
    appends = [sql for sql in at_the_end if 'INSERT INTO "audit_auditevent"' in sql]
    assert len(appends) == 1, listing(at_the_end)
    finished = AuditEvent.objects.filter(action="job.finish").order_by("seq")
    assert [e.job_id for e in finished][-2:] == [str(change.pk), str(join.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_warm_okta_onboarding_stays_within_its_statements(on_sandbox, monkeypatch):
    """The same on Okta (5 groups, 1 app): its group and app steps are one batch, one intent
    and one outcome write for the six (OktaConnector.apply_many), not six of each."""
    monkeypatch.setattr(run_job, "delay", lambda job_id: None)
    dirs = make_directories(
        on_sandbox,
        "okstmts",
        kinds=("okta",),
        groups=["Staff", "Sales", "Finance", "VPN Users", "Managers"],
        apps=["Salesforce"],
    )
    # Paced as the Entra test's connection is, so that no run parks for its tokens.
    dirs.tenant.connections.update(rate_limit_per_s=50, rate_burst=50)
    warm_up = drive(onboard(dirs, "Warm", "Up"))
    assert warm_up.status == Job.Status.SUCCEEDED, warm_up.error
    job = onboard(dirs, "Grace", "Hopper")
    forget_known_heads()
    with CaptureQueriesContext(connection) as run:
        job = drive(job)

    assert job.status == Job.Status.SUCCEEDED, job.error
    ran = statements(run)
    print(f"\nokta worker {len(ran)}:\n{listing(ran)}")
    assert len(ran) <= OKTA_STATEMENTS[connection.vendor], listing(ran)
    if connection.vendor == "postgresql":
        assert not account_writes_alone(ran), listing(ran)
    assert not [sql for sql in ran if sql.startswith('SELECT "outbound_webhookendpoint"')]
    # The account's row leaves out Everyone as the read of its groups typed it.
    assert not [sql for sql in ran if sql.startswith('SELECT "inventory_resource"')], listing(ran)
