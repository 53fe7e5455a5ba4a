"""Matching a tenant's accounts to people across its directories: one person in Entra and in
Okta is one row, by the tenant's rule; a DirectoryAccount link beats the rule; a managed
identity without any account is a person too; rows left empty go."""

from __future__ import annotations

import itertools

import pytest
from django.utils import timezone

from provisioning.inventory import matching
from provisioning.inventory.models import Account, Person, Policy
from provisioning.models import DirectoryAccount, Identity

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)


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


def test_rows_left_empty_go_and_a_deleted_account_alone_is_nobody(alpha):
    gone = add_account(alpha.connection, "gone@x.test")
    matching.rematch(alpha.tenant)
    assert "gone@x.test" in people(alpha.tenant)

    Account.objects.filter(pk=gone.pk).update(deleted=True)
    matching.rematch(alpha.tenant)

    assert "gone@x.test" not in people(alpha.tenant)
    gone.refresh_from_db()
    assert gone.person is None


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
