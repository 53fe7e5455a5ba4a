"""Matching a tenant's accounts to people across its directories: one person in Entra and in
Okta is one row, by the tenant's rule; a DirectoryAccount link beats the rule; a managed
identity without any account is a person too; rows left empty go."""

from __future__ import annotations

import itertools
import uuid

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from provisioning.connectors.base import AccessState, DirectoryUser
from provisioning.inventory import matching, service
from provisioning.inventory.models import Account, Cursor, Person, Policy
from provisioning.inventory.queries_drift import unmanaged_people
from provisioning.models import DirectoryAccount, Identity
from tests.factories import make_person
from tests.provisioning.directories import make_directories

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)


# -- read from the sandbox's Entra directory and Okta org --------------------------------------


@pytest.fixture
def dirs(on_sandbox):
    made = make_directories(on_sandbox, f"mt{uuid.uuid4().hex[:10]}", kinds=("entra", "okta"))
    yield made
    with made.control() as control:
        control.delete(f"/_sandbox/entra/{made.entra_id}")
        control.delete(f"/_sandbox/okta/{made.okta_id}")


def add_okta_user(dirs, login: str, first: str, last: str, email: str = "") -> dict:
    """A person already in the Okta org, made through its API as an admin would."""
    body = {
        "profile": {"firstName": first, "lastName": last, "login": login, "email": email or login}
    }
    response = httpx.post(
        f"{dirs.server.url}/okta/{dirs.okta_id}/api/v1/users?activate=true",
        json=body,
        headers={"Authorization": f"SSWS {dirs.okta_id}-token"},
        verify=str(dirs.server.ca),
    )
    assert response.status_code == 200, response.text
    return response.json()


def read_both(dirs) -> None:
    for kind in ("entra", "okta"):
        cursor = service.refresh(dirs.tenant.connections.get(kind=kind), sleep=lambda s: None)
        assert cursor is not None and cursor.state == Cursor.State.IDLE, cursor.last_error
    matching.rematch(dirs.tenant)  # as the cycle after each read does; once more is harmless


def test_people_read_from_entra_and_okta_are_matched_across_them(client, dirs):
    domain = dirs.tenant.primary_domain
    dirs.add_entra_user(f"ada@{domain}", "Ada", "Both")
    add_okta_user(dirs, f"Ada@{domain}", "Ada", "Both")
    grace = dirs.add_entra_user(f"grace.h@{domain}", "Grace", "Hopper")
    response = dirs.graph("PATCH", f"/users/{grace['id']}", {"mail": "grace@corp.example"})
    assert response.status_code == 204, response.text
    add_okta_user(dirs, f"grace.hopper@{domain}", "Grace", "Hopper", "Grace@Corp.example")
    add_okta_user(dirs, f"olga@{domain}", "Olga", "OktaOnly")

    read_both(dirs)

    ada = Person.objects.get(tenant=dirs.tenant, key=f"ada@{domain}")
    assert ada.accounts_count == 2 and ada.display_name == "Ada Both"
    assert {a.connection.kind for a in ada.accounts.all()} == {"entra", "okta"}
    by_username = Person.objects.filter(tenant=dirs.tenant, display_name="Grace Hopper")
    assert by_username.count() == 2  # the usernames differ: two people by the default rule

    Policy.objects.update_or_create(tenant=dirs.tenant, defaults={"match_on": "mail"})
    matching.rematch(dirs.tenant)

    grace_row = Person.objects.get(tenant=dirs.tenant, display_name="Grace Hopper")
    assert grace_row.key == "grace@corp.example" and grace_row.accounts_count == 2
    technician = make_person(f"tech-{dirs.tenant.slug}", Role.TECHNICIAN, [dirs.tenant])
    client.force_login(technician)
    page = client.get(reverse("people_list", kwargs={"tenant": dirs.tenant.slug}))
    rows = {row["person"].display_name: row for row in page.context["rows"]}
    assert sorted(rows) == ["Ada Both", "Grace Hopper", "Olga OktaOnly"]
    assert [label for label, _ in rows["Grace Hopper"]["directories"]] == ["Entra", "Okta"]
    assert [label for label, _ in rows["Olga OktaOnly"]["directories"]] == ["Okta"]


# -- the rule, links and identities, over inventory rows as a read leaves them ----------------


@pytest.fixture(autouse=True)
def quick_password_hashes(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def add_account(connection, username: str, **fields) -> Account:
    defaults = {"display_name": username.split("@")[0].title(), "mail": username}
    return Account.objects.create(
        connection=connection,
        tenant=connection.tenant,
        remote_id=f"r-{next(_ids)}",
        username=username,
        **{**defaults, **fields},
    )


def people(tenant) -> dict[str, Person]:
    return {p.key: p for p in Person.objects.filter(tenant=tenant)}


def test_one_person_in_entra_and_okta_is_one_row(alpha):
    domain = alpha.tenant.primary_domain
    seen = timezone.now()
    entra = add_account(alpha.connection, f"Ada@{domain}", licence_ids=["sku"], last_sign_in=seen)
    okta = add_account(alpha.okta_connection, f"ada@{domain}", enabled=False)
    add_account(alpha.okta_connection, f"bob@{domain}")

    matching.rematch(alpha.tenant)

    rows = people(alpha.tenant)
    ada = rows[f"ada@{domain}"]
    assert ada.accounts_count == 2 and ada.identity is None
    assert ada.enabled and ada.licensed and ada.last_sign_in == seen
    assert set(ada.accounts.values_list("pk", flat=True)) == {entra.pk, okta.pk}
    assert rows[f"bob@{domain}"].accounts_count == 1
    # Pat, the world's joiner, has no account anywhere and is a person all the same
    pat = Person.objects.get(identity=alpha.identity)
    assert pat.accounts_count == 0 and pat.enabled and pat.in_scope
    assert len(rows) == 3


def test_by_mail_when_the_rule_says_mail(alpha):
    Policy.objects.create(tenant=alpha.tenant, match_on=Policy.MatchOn.MAIL)
    add_account(alpha.connection, "a.lovelace@upn.test", mail="Ada@corp.test")
    add_account(alpha.okta_connection, "ada.okta@login.test", mail="ada@corp.test")

    matching.rematch(alpha.tenant)

    assert people(alpha.tenant)["ada@corp.test"].accounts_count == 2


def test_a_directory_account_link_wins_over_the_key(alpha):
    pat = alpha.identity
    odd = add_account(alpha.connection, "p.member.old@elsewhere.test")
    DirectoryAccount.objects.create(
        identity=pat, connection=alpha.connection, remote_id=odd.remote_id
    )
    matching.rematch(alpha.tenant)
    person = Person.objects.get(identity=pat)
    assert list(person.accounts.all()) == [odd] and person.accounts_count == 1
    assert person.display_name == pat.display_name
    assert not Person.objects.filter(key="p.member.old@elsewhere.test").exists()


def test_an_identity_has_its_person_at_once_and_gets_its_account_when_linked(alpha):
    ident = Identity.objects.create(
        tenant=alpha.tenant,
        first_name="Cy",
        last_name="New",
        display_name="Cy New",
        username=f"cy@{alpha.tenant.primary_domain}",
        email=f"cy@{alpha.tenant.primary_domain}",
    )
    person = Person.objects.get(identity=ident)
    assert person.key == ident.username and person.accounts_count == 0

    account = add_account(alpha.connection, "cy-upn-from-elsewhere@x.test")
    matching.rematch(alpha.tenant)
    assert Person.objects.get(key="cy-upn-from-elsewhere@x.test").identity is None

    link = DirectoryAccount.objects.create(identity=ident, connection=alpha.connection)
    link.remote_id = account.remote_id
    link.save()

    account.refresh_from_db()
    assert account.person == person
    assert not Person.objects.filter(key="cy-upn-from-elsewhere@x.test").exists()
    person.refresh_from_db()
    assert person.accounts_count == 1


def new_identity(alpha, name: str, **fields) -> Identity:
    domain = alpha.tenant.primary_domain
    return Identity.objects.create(
        tenant=alpha.tenant,
        first_name=name.title(),
        last_name="New",
        display_name=f"{name.title()} New",
        username=fields.pop("username", f"{name}@{domain}"),
        email=fields.pop("email", f"{name}@{domain}"),
        **fields,
    )


def test_a_new_identity_s_row_is_summarised_as_a_later_refresh_would(alpha):
    ident = new_identity(alpha, "dee", employee_id="E-9")
    person = Person.objects.get(identity=ident)
    made = {name: getattr(person, name) for name in matching.SUMMARY}

    Person.objects.filter(pk=person.pk).update(display_name="", search="", enabled=False)
    matching.refresh_people([person])
    person.refresh_from_db()

    assert made == {name: getattr(person, name) for name in matching.SUMMARY}
    assert person.enabled and person.in_scope and person.accounts_count == 0
    assert "e-9" in person.search.split()


def test_a_new_identity_takes_over_the_unmanaged_person_holding_its_key(alpha):
    domain = alpha.tenant.primary_domain
    found = add_account(alpha.connection, f"eve@{domain}", display_name="Eve Found")
    matching.rematch(alpha.tenant)
    held = Person.objects.get(key=f"eve@{domain}")

    ident = new_identity(alpha, "eve")

    person = Person.objects.get(identity=ident)
    assert person.pk == held.pk and person.key == f"eve@{domain}"
    assert list(person.accounts.all()) == [found] and person.accounts_count == 1
    assert person.display_name == "Eve New"


def test_a_new_identity_whose_key_another_identity_holds_gets_a_key_of_its_own(alpha):
    Policy.objects.create(tenant=alpha.tenant, match_on=Policy.MatchOn.MAIL)
    first = new_identity(alpha, "fay", email="shared@corp.test")
    second = new_identity(alpha, "fay.two", email="shared@corp.test")

    assert Person.objects.get(identity=first).key == "shared@corp.test"
    assert Person.objects.get(identity=second).key == f"identity:{second.pk}"


def onboard(alpha, name: str, templates: list, **fields):
    from provisioning import services

    request = services.OnboardingRequest(
        first_name=name.title(), last_name="Joiner", role_templates=templates, **fields
    )
    username = f"{name}@{alpha.tenant.primary_domain}"
    return services.request_onboarding(alpha.tenant, request, username=username, actor="system")


def test_an_onboarding_keys_its_new_person_by_the_rule_as_its_submit_read_it(alpha, monkeypatch):
    """On PostgreSQL the submit's INSERT of the identity reads the takeover policy and hands
    it to this hook (services._insert_joiner): the person is keyed by the rule as it is at
    that submit, and a changed rule holds from the next one: the rule this process read
    before, by which the person's row rides in the INSERT (matching.person_riding_with),
    is the key only where the statement finds it still the tenant's (here it never is).
    The policy handed over is the row as the ORM reads it (its JSON lists decoded)."""
    stored = Policy.objects.create(
        tenant=alpha.tenant,
        match_on=Policy.MatchOn.EMPLOYEE_ID,
        user_types=["Member"],
        departments=["Sales"],
    )
    seen = []
    keyed = matching.identity_key
    monkeypatch.setattr(matching, "identity_key", lambda p, i: seen.append(p) or keyed(p, i))
    first = onboard(alpha, "gil", [alpha.template], employee_id="HR-7")
    fields = [f.attname for f in Policy._meta.concrete_fields]
    assert [getattr(seen[-1], f) for f in fields] == [getattr(stored, f) for f in fields]
    Policy.objects.filter(tenant=alpha.tenant).update(match_on=Policy.MatchOn.MAIL)
    second = onboard(alpha, "hal", [], employee_id="HR-8")

    assert Person.objects.get(identity=first.identity).key == "hr-7"
    assert Person.objects.get(identity=second.identity).key == f"hal@{alpha.tenant.primary_domain}"
    assert list(first.identity.role_templates.all()) == [alpha.template]
    assert not second.identity.role_templates.exists()
    assert first.identity_id == first.identity.pk and first.tenant_id == alpha.tenant.pk


def test_a_joiner_after_another_takes_over_the_unmanaged_person_holding_its_key(alpha):
    """After a first joiner, this process knows the tenant's rule: on PostgreSQL the next
    joiner's row rides in its INSERT (matching.person_riding_with), which writes nothing where
    the key is held; the person the inventory found is still taken over, with its account."""
    first = onboard(alpha, "ivy", [])
    domain = alpha.tenant.primary_domain
    found = add_account(alpha.connection, f"jo@{domain}", display_name="Jo Found")
    matching.rematch(alpha.tenant)
    held = Person.objects.get(key=f"jo@{domain}")

    joiner = onboard(alpha, "jo", [])

    person = Person.objects.get(identity=joiner.identity)
    assert person.pk == held.pk and person.key == f"jo@{domain}"
    assert list(person.accounts.all()) == [found] and person.accounts_count == 1
    assert person.display_name == "Jo Joiner"
    assert Person.objects.get(identity=first.identity).key == f"ivy@{domain}"


def test_rows_left_empty_go_and_a_deleted_account_alone_is_nobody(alpha):
    gone = add_account(alpha.connection, "gone@x.test")
    matching.rematch(alpha.tenant)
    assert "gone@x.test" in people(alpha.tenant)

    Account.objects.filter(pk=gone.pk).update(deleted=True)
    matching.rematch(alpha.tenant)

    assert "gone@x.test" not in people(alpha.tenant)
    gone.refresh_from_db()
    assert gone.person is None


def test_by_an_attribute_the_directories_hold(alpha):
    Policy.objects.create(
        tenant=alpha.tenant, match_on=Policy.MatchOn.ATTRIBUTE, match_attribute="hrId"
    )
    add_account(alpha.connection, "a@upn.test", attributes={"hrId": "HR-7"})
    add_account(alpha.okta_connection, "a.other@okta.test", attributes={"hrId": "hr-7"})
    add_account(alpha.okta_connection, "nobody@okta.test", attributes={})

    matching.rematch(alpha.tenant)

    rows = people(alpha.tenant)
    assert rows["hr-7"].accounts_count == 2
    assert sum(key.startswith("account:") for key in rows) == 1


def test_an_account_without_a_key_is_a_person_of_its_own(alpha):
    blank = add_account(alpha.connection, "", mail="", display_name="Room 4")
    matching.rematch(alpha.tenant)
    assert people(alpha.tenant)[f"account:{blank.pk}"].display_name == "Room 4"


def test_a_changed_rule_rekeys_and_keeps_the_managed_row(alpha):
    pat = alpha.identity
    add_account(alpha.connection, pat.username, mail="pat@corp.test")
    matching.rematch(alpha.tenant)
    row = Person.objects.get(identity=pat)

    pat.email = "pat@corp.test"
    pat.save()
    Policy.objects.create(tenant=alpha.tenant, match_on=Policy.MatchOn.MAIL)
    matching.rematch(alpha.tenant)

    again = Person.objects.get(identity=pat)
    assert again.pk == row.pk and again.key == "pat@corp.test" and again.accounts_count == 1


def test_the_engines_read_of_a_new_account_goes_to_its_persons_row(alpha):
    pat = alpha.identity
    DirectoryAccount.objects.create(identity=pat, connection=alpha.connection, remote_id="u-pat")
    user = DirectoryUser("u-pat", pat.username, True, {"display_name": "Pat Read"})

    service.record_account_read(alpha.connection, user, AccessState(licenses=frozenset({"sku"})))
    service.record_account_read(alpha.connection, user, AccessState())  # read again: updated

    account = Account.objects.get(connection=alpha.connection, remote_id="u-pat")
    assert account.person == Person.objects.get(identity=pat)
    assert account.licence_ids == [] and account.display_name == "Pat Read"
    # The job's end moves the status: the row's summary follows, its accounts counted.
    Identity.objects.filter(pk=pat.pk).update(status=Identity.Status.JOINER)
    pat.refresh_from_db()
    pat.status = Identity.Status.ACTIVE
    pat.save(update_fields=["status", "updated_at"])
    person = Person.objects.get(identity=pat)
    assert person.accounts_count == 1 and person.enabled


def test_an_account_the_engine_read_is_judged_by_the_scope_rules_before_any_inventory_read(
    client, alpha
):
    """The demo's first minute: onboarded people's accounts are known from the jobs' reads
    only; they must not be counted "out of scope: never changed" for want of a verdict."""
    pat = alpha.identity
    DirectoryAccount.objects.create(identity=pat, connection=alpha.connection, remote_id="u-pat")
    user = DirectoryUser("u-pat", pat.username, True, {"display_name": pat.display_name})
    service.record_account_read(alpha.connection, user, AccessState())

    account = Account.objects.get(connection=alpha.connection, remote_id="u-pat")
    assert (account.in_scope, account.scope_reason) == (True, "")
    assert Person.objects.get(identity=pat).in_scope
    client.force_login(alpha.technician)
    page = client.get(reverse("people_list", kwargs={"tenant": alpha.tenant.slug}))
    assert page.context["counts"].out_of_scope == 0

    service_account = DirectoryUser("u-svc", "svc-backup@alpha.example", True, {})
    service.record_account_read(alpha.connection, service_account, AccessState())
    account = Account.objects.get(connection=alpha.connection, remote_id="u-svc")
    assert not account.in_scope and account.scope_reason == "matches excluded pattern svc-*"


def test_the_people_page_says_which_directories_have_not_been_read_yet(client, alpha):
    client.force_login(alpha.technician)
    url = reverse("people_list", kwargs={"tenant": alpha.tenant.slug})
    body = client.get(url).content.decode()
    notice = body[body.index('id="people-unread"') :].split("</p>", 1)[0]
    assert "<strong>Microsoft Entra ID</strong> and <strong>Okta</strong> have not been" in notice
    assert "lists only the people the portal manages" in notice
    now = timezone.now()
    for connection in alpha.tenant.connections.all():
        Cursor.objects.create(connection=connection, started_at=now, finished_at=now)
    assert "not been read yet" not in client.get(url).content.decode()


# -- a directory the person is not managed in (Identity.directories) -------------------------


def test_an_account_where_the_person_is_not_managed_stays_nobody_s_by_username(alpha):
    """Pat is managed in Entra only: an Okta account with Pat's username is not the portal's
    to count as Pat's. It is a row of its own that nobody manages, as the auditor must see it
    (the People page's and the dashboard's "nobody manages" count), not hidden under Pat."""
    pat = alpha.identity
    Identity.objects.filter(pk=pat.pk).update(directories=[alpha.connection.pk])
    entra = add_account(alpha.connection, pat.username, in_scope=True)
    okta = add_account(alpha.okta_connection, pat.username.upper(), in_scope=True)

    matching.rematch(alpha.tenant)

    mine = Person.objects.get(identity=pat)
    assert list(mine.accounts.all()) == [entra] and mine.accounts_count == 1
    okta.refresh_from_db()
    assert okta.person is not None and okta.person.identity is None
    assert okta.person.accounts_count == 1 and okta.person.username == okta.username
    assert list(unmanaged_people(alpha.tenant)) == [okta.person]

    matching.rematch(alpha.tenant)  # again: nothing moves
    okta.refresh_from_db()
    assert okta.person.identity is None and Person.objects.get(identity=pat) == mine


def test_an_adopted_person_takes_over_their_key_without_the_accounts_elsewhere(alpha):
    """The one-person path (an identity saved): an unmanaged row holding the new identity's
    key gives it the accounts in its directories only."""
    domain = alpha.tenant.primary_domain
    entra = add_account(alpha.connection, f"ivy@{domain}", in_scope=True)
    okta = add_account(alpha.okta_connection, f"ivy@{domain}", in_scope=True)
    matching.rematch(alpha.tenant)

    ivy = new_identity(alpha, "ivy", directories=[alpha.connection.pk])

    person = Person.objects.get(identity=ivy)
    assert list(person.accounts.all()) == [entra] and person.accounts_count == 1
    okta.refresh_from_db()
    assert okta.person is not None and okta.person.identity is None
    assert okta.person.accounts_count == 1
    matching.rematch(alpha.tenant)  # the whole tenant's match agrees
    okta.refresh_from_db()
    assert okta.person.identity is None and list(person.accounts.all()) == [entra]


def test_a_directory_the_person_is_added_to_brings_its_account_to_them(alpha):
    pat = alpha.identity
    Identity.objects.filter(pk=pat.pk).update(directories=[alpha.connection.pk])
    okta = add_account(alpha.okta_connection, pat.username)
    matching.rematch(alpha.tenant)
    okta.refresh_from_db()
    assert okta.person.identity is None

    Identity.objects.filter(pk=pat.pk).update(
        directories=[alpha.connection.pk, alpha.okta_connection.pk]
    )
    matching.rematch(alpha.tenant)

    okta.refresh_from_db()
    assert okta.person.identity_id == pat.pk


def test_a_persons_summary_is_written_by_the_statement_the_orm_compiles(alpha, monkeypatch):
    """`summarise` keeps its UPDATE's text per shape (portal/kept_sql.py): each call sends
    what `filter().exclude(**summary).update(...)` sends for its own values, and writes them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from portal import kept_sql

    kept_sql.forget()
    at = timezone.now().replace(microsecond=0)
    monkeypatch.setattr(matching.timezone, "now", lambda: at)
    ident = new_identity(alpha, "sum", employee_id="E-1")
    link = DirectoryAccount.objects.create(identity=ident, connection=alpha.connection)
    account = add_account(alpha.connection, "sum-upn@x.test", last_sign_in=at)
    link.remote_id = account.remote_id
    link.save()
    person = Person.objects.get(identity=ident)
    for n in range(3):
        ident.display_name, ident.employee_id = f"Sum {n}", f"E-{n}"
        Account.objects.filter(pk=account.pk).update(last_sign_in=at.replace(second=n))
        with CaptureQueriesContext(connection) as sent:
            matching.summarise(ident)
        summary = {
            name: getattr(Person.objects.get(pk=person.pk), name) for name in matching.SUMMARY
        }
        assert summary["display_name"] == f"Sum {n}" and summary["last_sign_in"].second == n
        Person.objects.filter(pk=person.pk).update(display_name="")  # it differs again
        with CaptureQueriesContext(connection) as compiled:
            Person.objects.filter(identity_id=ident.pk).exclude(**summary).update(
                updated_at=at, **summary
            )
        assert sent.captured_queries[-1]["sql"] == compiled.captured_queries[-1]["sql"]
    shapes = [v for k, v in kept_sql._kept.items() if "inventory: a person's summary" in str(k)]
    # one shape, kept where a time is a parameter as it is (PostgreSQL; SQLite makes it text)
    assert [v is not None for v in shapes] == [connection.vendor == "postgresql"]
