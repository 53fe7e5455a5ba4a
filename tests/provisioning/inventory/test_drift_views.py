"""The drift report and its actions: who may read, who may act, tenant isolation, bad input,
htmx answers, and the person's drift on the identity page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.inventory.models import Account, Drift, Person
from provisioning.models import Job

pytestmark = pytest.mark.django_db

Kind, Status = Drift.Kind, Drift.Status


def item(world, kind=Kind.EXTRA, name="Finance", **fields) -> Drift:
    identity = world.identity
    return Drift.objects.create(
        tenant=world.tenant,
        person=Person.objects.get(identity=identity),
        identity=identity,
        connection=world.connection,
        kind=kind,
        access_kind=fields.pop(
            "access_kind", "groups" if kind in (Kind.EXTRA, Kind.MISSING) else ""
        ),
        ref_id=fields.pop("ref_id", f"id-{name}"),
        ref_name=name,
        detail=fields.pop(
            "detail", f"Holds the group {name}: no role, grant or exception gives it."
        ),
        **fields,
    )


def report(world) -> str:
    return reverse("drift_report", kwargs={"tenant": world.tenant.slug})


def action(world, name: str, drift: Drift) -> str:
    return reverse(name, kwargs={"tenant": world.tenant.slug, "drift_id": drift.pk})


def login(client, user):
    client.force_login(user)
    return client


def test_every_reader_of_the_tenant_sees_its_drift_per_person(client, alpha, bravo):
    item(alpha, name="Finance")
    item(alpha, Kind.STATE, name="", ref_id="sign-in", detail="Sign-in is allowed in the directory")
    item(bravo, name="Bravo secret group")
    for user in (alpha.technician, alpha.account_manager, alpha.client_admin):
        page = login(client, user).get(report(alpha))
        assert page.status_code == 200
        text = page.content.decode()
        assert alpha.identity.display_name in text and "Finance" in text
        assert "Sign-in is allowed in the directory" in text
        assert "Bravo secret group" not in text
        assert ("Converge all open (2)" in text) == (user == alpha.technician)
    assert login(client, bravo.technician).get(report(alpha)).status_code == 404


def test_filters_narrow_the_items_and_bad_values_are_refused(client, alpha):
    extra, state = item(alpha), item(alpha, Kind.STATE, name="", ref_id="sign-in", detail="Blocked")
    state.status = Status.DISMISSED
    state.save()
    login(client, alpha.technician)
    only_open = client.get(report(alpha)).content.decode()
    assert f'id="drift-{extra.pk}"' in only_open and f'id="drift-{state.pk}"' not in only_open
    dismissed = client.get(report(alpha), {"status": "dismissed"}).content.decode()
    assert f'id="drift-{state.pk}"' in dismissed and f'id="drift-{extra.pk}"' not in dismissed
    missing = client.get(report(alpha), {"kind": "missing"}).content.decode()
    assert 'id="drift-none"' in missing
    partial = client.get(report(alpha), {"status": "all"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and b"<html" not in partial.content
    for bad in (
        {"kind": "nonsense"},
        {"status": "<script>"},
        {"directory": "99999999999999999999999"},
        {"page": "-1"},
        {"person": "1e9"},
    ):
        # marked on its field and left out; the report still lists (the one filter behaviour)
        response = client.get(report(alpha), bad)
        assert response.status_code == 200 and response.context["form"].errors, bad
        assert response.context["page"] is not None, bad


def test_converge_queues_a_reconciliation_and_only_operators_may(client, alpha, bravo):
    extra = item(alpha)
    for user in (alpha.account_manager, alpha.client_admin):
        assert login(client, user).post(action(alpha, "drift_converge", extra)).status_code == 403
    assert (
        login(client, bravo.technician).post(action(alpha, "drift_converge", extra)).status_code
        == 404
    )
    bravo_url = reverse(
        "drift_converge", kwargs={"tenant": bravo.tenant.slug, "drift_id": extra.pk}
    )
    assert client.post(bravo_url).status_code == 404  # alpha's item through bravo's tenant
    assert (
        login(client, alpha.technician).get(action(alpha, "drift_converge", extra)).status_code
        == 405
    )

    answer = client.post(action(alpha, "drift_converge", extra))
    assert answer.status_code == 302
    extra.refresh_from_db()
    assert extra.status == Status.CONVERGING
    assert (extra.job.kind, extra.job.status) == (Job.Kind.RECONCILE, Job.Status.QUEUED)
    assert extra.job.identity_id == alpha.identity.pk
    assert (
        AuditEvent.objects.filter(action="drift.converge", tenant_id=alpha.tenant.pk).count() == 1
    )
    again = client.post(action(alpha, "drift_converge", extra), follow=True)
    assert "Nothing open to converge" in again.content.decode()


def test_converge_all_open_of_a_person(client, alpha):
    items = [item(alpha, name="Finance"), item(alpha, Kind.MISSING, name="Staff")]
    person = items[0].person
    url = reverse(
        "drift_converge_person", kwargs={"tenant": alpha.tenant.slug, "person_id": person.pk}
    )
    answer = login(client, alpha.technician).post(url, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and "Reconciliation #" in answer.content.decode()
    statuses = set(Drift.objects.filter(person=person).values_list("status", flat=True))
    assert statuses == {Status.CONVERGING}
    assert Job.objects.filter(identity=alpha.identity, kind=Job.Kind.RECONCILE).count() == 1


def test_accept_needs_a_reason_and_records_the_exception(client, alpha):
    extra = item(alpha)
    login(client, alpha.technician)
    for reason in ("", "ab", "x" * 501):
        answer = client.post(action(alpha, "drift_accept", extra), {"reason": reason}, follow=True)
        assert "reason" in answer.content.decode().lower()
        extra.refresh_from_db()
        assert extra.status == Status.OPEN
    assert not AuditEvent.objects.filter(action="drift.accept").exists()

    answer = client.post(
        action(alpha, "drift_accept", extra),
        {"reason": "Finance approver until March"},
        HTTP_HX_REQUEST="true",
    )
    assert answer.status_code == 200 and "Accepted: Finance." in answer.content.decode()
    extra.refresh_from_db()
    assert (extra.status, extra.reason, extra.resolved_by) == (
        Status.ACCEPTED,
        "Finance approver until March",
        alpha.technician,
    )
    alpha.identity.refresh_from_db()
    exceptions = alpha.identity.access_exceptions[str(alpha.connection.pk)]["groups"]
    assert exceptions == [{"id": "id-Finance", "name": "Finance"}]
    event = AuditEvent.objects.get(action="drift.accept")
    assert event.after["reason"] == "Finance approver until March"
    assert (
        login(client, alpha.account_manager)
        .post(action(alpha, "drift_accept", extra), {"reason": "Because I say so"})
        .status_code
        == 403
    )


def test_missing_access_a_role_gives_cannot_be_accepted(client, alpha):
    missing = item(alpha, Kind.MISSING, name="Staff")
    login(client, alpha.technician)
    page = client.get(report(alpha)).content.decode()
    assert "cannot be accepted" in page
    answer = client.post(
        action(alpha, "drift_accept", missing), {"reason": "Not needed"}, follow=True
    )
    assert "roles, extra groups or grants give it" in answer.content.decode()
    missing.refresh_from_db()
    assert missing.status == Status.OPEN
    licence = item(alpha, Kind.MISSING, name="SPE_E3", access_kind="licenses", ref_id="sku-e3")
    client.post(action(alpha, "drift_accept", licence), {"reason": "No seat: goes without"})
    licence.refresh_from_db()
    alpha.identity.refresh_from_db()
    assert licence.status == Status.ACCEPTED
    assert alpha.identity.license_choices == {"SPE_E3": ""}


def test_dismiss_with_htmx_answers_the_persons_block(client, alpha, bravo):
    extra = item(alpha)
    assert (
        login(client, bravo.technician)
        .post(action(alpha, "drift_dismiss", extra), {"reason": "Not mine"})
        .status_code
        == 404
    )
    answer = login(client, alpha.technician).post(
        action(alpha, "drift_dismiss", extra),
        {"reason": "Client says it is fine", "next": "https://evil.example/"},
        HTTP_HX_REQUEST="true",
    )
    text = answer.content.decode()
    assert answer.status_code == 200 and f'id="drift-person-{extra.person_id}"' in text
    assert "Dismissed: Finance." in text and "“Client says it is fine”" in text
    extra.refresh_from_db()
    assert extra.status == Status.DISMISSED
    plain = client.post(
        action(alpha, "drift_dismiss", extra), {"reason": "again", "next": "https://evil.example/"}
    )
    assert plain.status_code == 302 and plain.url.startswith(report(alpha))


def test_the_identity_page_shows_the_persons_open_drift(client, alpha):
    item(alpha, name="Finance")
    url = reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    )
    text = login(client, alpha.client_admin).get(url).content.decode()
    assert 'id="person-drift-items"' in text and "Finance" in text
    assert "Converge" not in text  # a client admin reads, and does not act


def test_unmanaged_in_scope_people_are_counted_not_stored(client, alpha):
    for n in range(3):
        person = Person.objects.create(
            tenant=alpha.tenant, key=f"u{n}", display_name=f"Unmanaged {n}", sort_name=f"u{n}"
        )
        Account.objects.create(
            connection=alpha.connection,
            tenant=alpha.tenant,
            remote_id=f"r{n}",
            username=f"u{n}@alpha.test",
            person=person,
            in_scope=n < 2,
        )
        Person.objects.filter(pk=person.pk).update(in_scope=n < 2, accounts_count=1)
    text = login(client, alpha.technician).get(report(alpha)).content.decode()
    assert 'id="drift-unmanaged">2<' in text
    assert "Unmanaged 0" in text and "Unmanaged 2" not in text
    assert not Drift.objects.filter(kind=Kind.UNMANAGED).exists()


def test_the_person_page_shows_drift_of_managed_people_only(client, alpha):
    extra = item(alpha, name="Finance")
    login(client, alpha.technician)
    url = reverse(
        "person_detail", kwargs={"tenant": alpha.tenant.slug, "person_id": extra.person_id}
    )
    text = client.get(url, follow=True).content.decode()  # a managed person's page: theirs
    assert 'id="person-drift-items"' in text and f'id="drift-{extra.pk}"' in text
    assert "Converge all open (1)" in text
    nobody = Person.objects.create(tenant=alpha.tenant, key="x", display_name="Nobody's")
    Account.objects.create(
        connection=alpha.connection, tenant=alpha.tenant, remote_id="x", person=nobody
    )
    url = reverse("person_detail", kwargs={"tenant": alpha.tenant.slug, "person_id": nobody.pk})
    page = client.get(url)
    assert page.status_code == 200 and 'id="person-drift-items"' not in page.content.decode()


def test_converge_asks_before_it_changes_a_directory(client, alpha):
    """Converge sends to the directory: one click by mistake must not remove access."""
    drift = item(alpha, name="Finance")
    url = reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    )
    text = login(client, alpha.technician).get(url).content.decode()
    one = action(alpha, "drift_converge", drift)
    assert f'action="{one}" class="inline" data-confirm="Remove Finance from ' in text
    assert f"in {alpha.connection.label} now? (Holds the group Finance" in text
    assert 'data-confirm="Converge all 1 open item of ' in text


def test_the_report_tells_its_times_in_the_tenants_zone(client, alpha):
    """As the person's page shows the same items: in the tenant's zone, named once."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    found, seen = (
        datetime(2026, 12, 3, 14, 30, tzinfo=UTC),
        datetime(2026, 12, 4, 15, 45, tzinfo=UTC),
    )
    Drift.objects.filter(pk=item(alpha).pk).update(found_at=found, last_seen_at=seen)
    login(client, alpha.technician)
    page = client.get(report(alpha)).content.decode()
    assert "Times in America/New_York." in page
    for body in (page, client.get(report(alpha), HTTP_HX_REQUEST="true").content.decode()):
        text = re.sub(r"<[^>]+>", "", body)  # as read: a date may sit in its own nowrap span
        assert "3 Dec 2026 09:30" in text and "last seen 4 Dec 2026 10:45" in text
        assert "14:30" not in body and "15:45" not in body


def leave_ended(alpha, at: datetime) -> Job:
    """A leave of alpha's person that ended at `at`."""
    return Job.objects.create(
        tenant=alpha.tenant,
        identity=alpha.identity,
        kind=Job.Kind.LEAVE,
        status=Job.Status.SUCCEEDED,
        finished_at=at,
    )


def test_an_item_seen_before_the_leave_ended_waits_for_the_next_read(client, alpha):
    """Right after a leave, the inventory has not read the directory since: its open items
    were seen before the leave changed the account. The page says so, and offers no converge
    (the leave did that); the item stays open until the next read confirms or resolves it."""
    seen = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    before = item(alpha, name="Finance", found_at=seen, last_seen_at=seen)
    leave = leave_ended(alpha, datetime(2026, 12, 3, 9, 30, tzinfo=UTC))
    alpha.identity.status = alpha.identity.Status.LEFT
    alpha.identity.save(update_fields=["status"])
    later = datetime(2026, 12, 3, 9, 45, tzinfo=UTC)  # a read after the leave found this one
    after = item(
        alpha,
        Kind.STATE,
        name="",
        ref_id="sign-in",
        detail="Sign-in is allowed",
        found_at=later,
        last_seen_at=later,
    )
    url = reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    )
    for page in (url, report(alpha)):
        text = login(client, alpha.technician).get(page).content.decode()
        row = text[text.index(f'id="drift-{before.pk}"') :].split("</tr>", 1)[0]
        assert f"Leave #{leave.pk}" in row and "Awaiting the next read" in row
        assert "next inventory read confirms" in row
        assert action(alpha, "drift_converge", before) not in row
        other = text[text.index(f'id="drift-{after.pk}"') :].split("</tr>", 1)[0]
        assert "Awaiting the next read" not in other
        assert action(alpha, "drift_converge", after) in other
        assert "Converge all open (1)" in text  # the item seen after the leave only
    before.refresh_from_db()
    assert before.status == Status.OPEN  # only a read resolves it (docs/inventory.md)


def test_a_converge_sent_by_hand_for_an_item_awaiting_the_read_is_refused(client, alpha):
    """The page offers no Converge for an item last seen before the person's leave ended: a
    POST made by hand is refused the same way, with a message, and queues nothing; "Converge
    all open" acts only on the items seen since."""
    seen = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    before = item(alpha, name="Finance", found_at=seen, last_seen_at=seen)
    leave = leave_ended(alpha, datetime(2026, 12, 3, 9, 30, tzinfo=UTC))
    login(client, alpha.technician)
    jobs = Job.objects.count()
    answer = client.post(action(alpha, "drift_converge", before), HTTP_HX_REQUEST="true")
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "awaits the next inventory read" in text and f"Leave #{leave.pk}" in text
    assert "Nothing was queued" in text
    plain = client.post(action(alpha, "drift_converge", before), follow=True)
    assert "awaits the next inventory read" in plain.content.decode()
    before.refresh_from_db()
    assert (before.status, before.job_id) == (Status.OPEN, None)
    assert Job.objects.count() == jobs
    assert not AuditEvent.objects.filter(action="drift.converge").exists()

    person_url = reverse(
        "drift_converge_person",
        kwargs={"tenant": alpha.tenant.slug, "person_id": before.person_id},
    )
    text = client.post(person_url, HTTP_HX_REQUEST="true").content.decode()
    assert "items await the next inventory read" in text and Job.objects.count() == jobs
    later = datetime(2026, 12, 3, 9, 45, tzinfo=UTC)
    after = item(alpha, name="Sales", found_at=later, last_seen_at=later)
    client.post(person_url, HTTP_HX_REQUEST="true")
    before.refresh_from_db()
    after.refresh_from_db()
    assert (before.status, after.status) == (Status.OPEN, Status.CONVERGING)
