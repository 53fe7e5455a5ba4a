"""The People page lists every person of a tenant's directories, managed or not: search,
filters, keyset pages that keep the filters, htmx rows, counts; a client admin sees their own
tenant only; bad input is a 400. An unmanaged person's page shows their accounts per
directory with access by name; a managed person's page is their identity's."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from provisioning.inventory import matching
from provisioning.inventory.models import Account, Person, Resource
from provisioning.models import DirectoryAccount, Identity
from tenants.models import DirectoryConnection

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def quick_password_hashes(settings):
    """The worlds' people sign in with force_login: their hashes need not be slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def add_account(connection, username: str, name: str, **fields) -> Account:
    return Account.objects.create(
        connection=connection,
        tenant=connection.tenant,
        remote_id=f"r-{next(_ids)}",
        username=username,
        mail=fields.pop("mail", username),
        display_name=name,
        in_scope=fields.pop("in_scope", True),
        **fields,
    )


def url(world, **query) -> str:
    base = reverse("people_list", kwargs={"tenant": world.tenant.slug})
    if not query:
        return base
    return base + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def person_url(world, person: Person) -> str:
    return reverse("person_detail", kwargs={"tenant": world.tenant.slug, "person_id": person.pk})


def names_on(response) -> list[str]:
    return [row["person"].display_name for row in response.context["rows"]]


@pytest.fixture
def directory(alpha):
    """Alpha's directories as an inventory read leaves them, matched into people."""
    domain = alpha.tenant.primary_domain
    long_ago = timezone.now() - timedelta(days=400)
    made = {
        "ada": add_account(
            alpha.connection, f"ada@{domain}", "Ada Lovelace", licence_ids=["sku-e3"]
        ),
        "ada_okta": add_account(alpha.okta_connection, f"ada@{domain}", "Ada Lovelace"),
        "bob": add_account(
            alpha.connection, f"bob@{domain}", "Bob Idle", enabled=False, last_sign_in=long_ago
        ),
        "svc": add_account(
            alpha.connection,
            f"svc-backup@{domain}",
            "Backup Service",
            in_scope=False,
            scope_reason="Matches an excluded pattern: svc-*",
            last_sign_in=timezone.now(),
        ),
        "olga": add_account(alpha.okta_connection, f"olga@{domain}", "Olga Okta"),
    }
    matching.rematch(alpha.tenant)
    return made


def test_every_person_managed_or_not_is_one_row(client, alpha, directory):
    client.force_login(alpha.technician)
    response = client.get(url(alpha))
    assert response.status_code == 200
    names = names_on(response)
    # Pat is the world's managed joiner (no account yet); Ada is in Entra and Okta: one row
    assert names == [
        "Ada Lovelace",
        "Backup Service",
        "Bob Idle",
        "Olga Okta",
        alpha.identity.display_name,
    ]
    body = response.content.decode()
    ada = Person.objects.get(key=f"ada@{alpha.tenant.primary_domain}")
    assert person_url(alpha, ada) in body
    assert (
        reverse(
            "identity_detail",
            kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk},
        )
        in body
    )
    ada_row = next(r for r in response.context["rows"] if r["person"] == ada)
    assert [label for label, _ in ada_row["directories"]] == ["Entra", "Okta"]
    counts = response.context["counts"]
    assert (counts.accounts, counts.managed, counts.unmanaged, counts.out_of_scope) == (5, 1, 4, 1)
    assert "Onboard a person" in body and "Bulk import" in body


FILTERED = [
    ({"q": "LOVE"}, ["Ada Lovelace"]),  # any case, part of the name
    ({"q": "olga@"}, ["Olga Okta"]),  # the username / mail
    ({"who": "managed"}, ["Pat Member-alpha"]),
    ({"who": "unmanaged"}, ["Ada Lovelace", "Backup Service", "Bob Idle", "Olga Okta"]),
    ({"scope": "out"}, ["Backup Service"]),
    ({"status": "disabled"}, ["Bob Idle"]),
    ({"status": "enabled", "licensed": "yes"}, ["Ada Lovelace"]),
    ({"licensed": "no", "who": "unmanaged", "scope": "in"}, ["Bob Idle", "Olga Okta"]),
    ({"idle_days": "90", "who": "unmanaged"}, ["Ada Lovelace", "Bob Idle", "Olga Okta"]),
]


def test_search_and_filters(client, alpha, directory):
    client.force_login(alpha.account_manager)
    for query, expected in FILTERED:
        response = client.get(url(alpha, **query))
        assert response.status_code == 200
        assert names_on(response) == expected, query


def test_the_directory_filter(client, alpha, directory):
    client.force_login(alpha.technician)
    response = client.get(url(alpha, directory=alpha.okta_connection.pk))
    assert names_on(response) == ["Ada Lovelace", "Olga Okta"]


def test_typing_in_the_search_box_swaps_the_rows(client, alpha, directory):
    client.force_login(alpha.client_admin)
    page = client.get(url(alpha)).content.decode()
    assert 'hx-trigger="input changed delay:300ms"' in page
    response = client.get(url(alpha, q="bob"), **HX)
    body = response.content.decode()
    assert "<html" not in body and "Bob Idle" in body and "Olga Okta" not in body
    assert 'id="people-counts"' not in body  # the counts are the page's, not the rows'


def test_keyset_pages_forward_and_back_keep_the_filters(client, alpha):
    for n in range(120):
        add_account(alpha.connection, f"user{n:03d}@x.test", f"User {n:03d}", enabled=n % 2 == 0)
    matching.rematch(alpha.tenant)
    client.force_login(alpha.technician)

    enabled = {"who": "unmanaged", "status": "enabled"}
    first = client.get(url(alpha, **enabled))
    assert names_on(first)[0] == "User 000" and len(names_on(first)) == 50
    assert first.context["page"].previous_before is None
    next_link = first.context["page"].next_after
    assert f"who=unmanaged&amp;status=enabled&amp;after={next_link}" in first.content.decode()

    second = client.get(url(alpha, **enabled, after=next_link))
    assert names_on(second)[0] == "User 100" and len(names_on(second)) == 10
    assert second.context["page"].next_after is None  # 60 enabled: the last page

    back = client.get(url(alpha, **enabled, before=second.context["page"].previous_before))
    assert names_on(back) == names_on(first)

    everyone = client.get(url(alpha, after=next_link))  # the same row, no filter: odd ones too
    assert names_on(everyone)[0] == "User 099"


def test_a_page_link_to_a_row_that_left_starts_again(client, alpha, directory):
    client.force_login(alpha.technician)
    olga = Person.objects.get(key=f"olga@{alpha.tenant.primary_domain}")
    response = client.get(url(alpha, after=olga.pk, who="managed"))
    assert response.status_code == 200
    assert response.context["page"].moved and names_on(response) == ["Pat Member-alpha"]


BAD_INPUT = [
    {"idle_days": "0"},
    {"idle_days": "3651"},
    {"idle_days": "99999999999999999999"},
    {"after": "99999999999999999999"},
    {"after": "-1"},
    {"after": "1", "before": "2"},
    {"directory": "99999999999999999999"},
    {"who": "everyone-else"},
    {"q": "x" * 101},
]


def test_bad_input_is_marked_and_left_out(client, alpha):
    client.force_login(alpha.technician)
    for query in BAD_INPUT:
        response = client.get(url(alpha, **query))
        assert response.status_code == 200, query
        assert response.context["form"].errors and response.context["page"] is not None, query
        assert '<p class="error">' in response.content.decode(), query


def test_a_client_admin_sees_only_their_tenant(client, alpha, bravo, directory):
    bravo_person = Person.objects.get(identity=bravo.identity)
    client.force_login(bravo.client_admin)
    assert client.get(url(alpha)).status_code == 404
    olga = Person.objects.get(key=f"olga@{alpha.tenant.primary_domain}")
    assert client.get(person_url(alpha, olga)).status_code == 404
    # alpha's person under bravo's slug is not found either
    under_bravo = reverse(
        "person_detail", kwargs={"tenant": bravo.tenant.slug, "person_id": olga.pk}
    )
    assert client.get(under_bravo).status_code == 404
    # bravo's directory filter value on alpha's page is no choice of alpha's
    client.force_login(alpha.client_admin)
    response = client.get(url(alpha, directory=bravo.connection.pk))
    assert response.status_code == 200 and "directory" in response.context["form"].errors
    assert bravo_person.display_name not in response.content.decode()
    body = client.get(url(alpha)).content.decode()
    assert bravo_person.display_name not in body and "Onboard a person" not in body


def test_an_unmanaged_persons_accounts_with_access_by_name(client, alpha, directory):
    ada = directory["ada"]
    Account.objects.filter(pk=ada.pk).update(group_ids=["g-1", "g-gone"], department="Research")
    Resource.objects.create(
        connection=alpha.connection, kind="groups", remote_id="g-1", name="Analytical Engines"
    )
    Resource.objects.create(
        connection=alpha.connection, kind="licenses", remote_id="sku-e3", name="SPE_E3"
    )
    person = Person.objects.get(key=f"ada@{alpha.tenant.primary_domain}")
    client.force_login(alpha.account_manager)

    response = client.get(person_url(alpha, person))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Microsoft Entra ID" in body and "Okta" in body
    assert "Analytical Engines" in body and "g-gone" in body  # an id the catalogue lacks
    assert "SPE_E3" in body and "Research" in body
    assert 'id="person-drift"' in body and 'id="person-actions"' in body


def test_an_out_of_scope_account_says_why(client, alpha, directory):
    svc = Person.objects.get(key=f"svc-backup@{alpha.tenant.primary_domain}")
    client.force_login(alpha.technician)
    body = client.get(person_url(alpha, svc)).content.decode()
    assert "Matches an excluded pattern: svc-*" in body and "never changes" in body


def test_a_managed_persons_page_is_their_identitys(client, alpha, directory):
    pat = Person.objects.get(identity=alpha.identity)
    client.force_login(alpha.client_admin)
    response = client.get(person_url(alpha, pat))
    assert response.status_code == 302
    assert response.url == reverse(
        "identity_detail", kwargs={"tenant": alpha.tenant.slug, "identity_id": alpha.identity.pk}
    )


def test_a_linked_account_shows_on_its_managed_row(client, alpha, directory):
    olga = directory["olga"]
    DirectoryAccount.objects.create(
        identity=alpha.identity, connection=alpha.okta_connection, remote_id=olga.remote_id
    )
    client.force_login(alpha.technician)
    response = client.get(url(alpha, who="managed"))
    (row,) = response.context["rows"]
    assert row["person"].identity == alpha.identity
    assert [label for label, _ in row["directories"]] == ["Okta"]
    assert "Olga Okta" not in names_on(client.get(url(alpha)))


def test_the_client_home_shows_the_latest_people_and_links_the_page(client, alpha):
    for n in range(25):
        Identity.objects.create(
            tenant=alpha.tenant,
            first_name="Home",
            last_name=f"{n:02d}",
            display_name=f"Home {n:02d}",
            username=f"home{n:02d}@{alpha.tenant.primary_domain}",
            email=f"home{n:02d}@{alpha.tenant.primary_domain}",
        )
    client.force_login(alpha.client_admin)
    home = reverse("client_home", kwargs={"tenant": alpha.tenant.slug})
    response = client.get(home)
    body = response.content.decode()
    assert len(response.context["people"]) == 20
    assert "Home 24" in body and "Home 04" not in body  # the latest first
    assert "The 20 latest of 26 people" in body and url(alpha) in body


def test_every_reader_of_the_tenant_reads_the_pages(client, alpha, directory):
    olga = Person.objects.get(key=f"olga@{alpha.tenant.primary_domain}")
    for role in (Role.TECHNICIAN, Role.ACCOUNT_MANAGER, Role.CLIENT_ADMIN):
        client.force_login(alpha.people[role])
        assert client.get(url(alpha)).status_code == 200
        assert client.get(person_url(alpha, olga)).status_code == 200


def test_search_finds_a_person_by_an_email_unlike_their_username(client, alpha):
    add_account(alpha.connection, "a.k@alpha.test", "A. K.", mail="anna.karenina@mail.test")
    add_account(alpha.connection, "l.t@alpha.test", "L. T.", mail="leo@mail.test")
    matching.rematch(alpha.tenant)
    client.force_login(alpha.client_admin)
    assert names_on(client.get(url(alpha, q="Karenina@MAIL"))) == ["A. K."]
    assert names_on(client.get(url(alpha, q="l.t@alpha"))) == ["L. T."]  # the username / UPN


def test_pages_neither_overlap_nor_skip_among_equal_names(client, alpha):
    """120 people of one name: the id breaks the tie, so every page starts where the last
    ended, forward and back."""
    for n in range(120):
        add_account(alpha.connection, f"sam{n:03d}@x.test", "Sam Same")
    matching.rematch(alpha.tenant)
    client.force_login(alpha.technician)
    pages, query = [], {"q": "sam same"}
    response = client.get(url(alpha, **query))
    while True:
        pages.append([row["person"].pk for row in response.context["rows"]])
        after = response.context["page"].next_after
        if after is None:
            break
        response = client.get(url(alpha, **query, after=after))
    seen = [pk for page in pages for pk in page]
    same = Person.objects.filter(tenant=alpha.tenant, display_name="Sam Same")
    assert [len(page) for page in pages] == [50, 50, 20]
    assert seen == sorted(same.values_list("pk", flat=True))  # each once, in order
    back = client.get(url(alpha, **query, before=response.context["page"].previous_before))
    assert [row["person"].pk for row in back.context["rows"]] == pages[1]


def test_a_cursor_that_is_no_row_of_this_list_is_marked_or_the_first_page(client, alpha, bravo):
    client.force_login(alpha.technician)
    for bad in ("abc", "1.5", "1e3", "0x10", ""):
        response = client.get(url(alpha, after=bad))
        assert response.status_code == 200 and response.context["page"].first, bad
        assert bool(response.context["form"].errors) == (bad != ""), bad
    # another tenant's person as the cursor: the first page of this tenant, nothing of theirs
    theirs = Person.objects.get(identity=bravo.identity)
    response = client.get(url(alpha, after=theirs.pk))
    assert response.status_code == 200 and response.context["page"].moved
    assert bravo.identity.display_name not in response.content.decode()


def test_no_sign_in_for_n_days_has_one_name_here_and_on_the_stale_report(client, alpha):
    """`idle_days` on the People page, its bulk adoption and the stale report (and its CSV);
    a bookmark with the names they had before (`idle`, `days`) lands on the same filters."""
    client.force_login(alpha.technician)
    people = url(alpha)
    assert 'name="idle_days"' in client.get(people).content.decode()
    moved = client.get(people, {"who": "unmanaged", "idle": "90"})
    assert moved.status_code == 301 and moved["Location"] == f"{people}?who=unmanaged&idle_days=90"
    adopt = reverse("people_adopt", kwargs={"tenant": alpha.tenant.slug})
    assert client.get(adopt, {"idle": "30"})["Location"] == f"{adopt}?idle_days=30"
    for name in ("stale_report", "stale_csv"):
        stale = reverse(name, kwargs={"tenant": alpha.tenant.slug})
        moved = client.get(stale, {"days": "150", "managed": "managed"})
        assert moved.status_code == 301
        assert moved["Location"] == f"{stale}?managed=managed&idle_days=150"
    stale = client.get(reverse("stale_report", kwargs={"tenant": alpha.tenant.slug}))
    assert 'name="idle_days"' in stale.content.decode()


def test_the_people_page_leads_an_operator_to_adopt_the_listed_people(client, alpha, directory):
    """Taking a client over starts on the People page: its list (filters kept) opens the
    bulk adoption's preview. Readers get no such button; a list of managed people neither."""
    adopt = reverse("people_adopt", kwargs={"tenant": alpha.tenant.slug})
    client.force_login(alpha.technician)
    body = client.get(url(alpha)).content.decode()
    assert f'href="{adopt}"' in body and "Adopt the unmanaged people of this list" in body

    rows = client.get(url(alpha, q="love", scope="in"), **HX).content.decode()
    assert f'href="{adopt}?q=love&amp;scope=in"' in rows
    preview = client.get(f"{adopt}?q=love&scope=in")
    assert preview.status_code == 200 and preview.context["preview"].selected == 1

    assert f'href="{adopt}' not in client.get(url(alpha, who="managed")).content.decode()
    client.force_login(alpha.account_manager)
    assert f'href="{adopt}' not in client.get(url(alpha)).content.decode()


def test_a_list_without_unmanaged_people_offers_no_adoption_and_counts_no_rows(
    client, alpha, directory
):
    """A search that found nobody, or only managed people, still offered "Adopt the unmanaged
    people of this list…" (a preview of zeros), and under "Nobody matches." said "0 on this
    page, by name" (newcomer19, on the demo)."""
    adopt = reverse("people_adopt", kwargs={"tenant": alpha.tenant.slug})
    client.force_login(alpha.technician)
    for query in ({"q": "zzzz"}, {"q": "pat member"}):
        body = client.get(url(alpha, **query)).content.decode()
        assert f'href="{adopt}' not in body, query
    nobody = client.get(url(alpha, q="zzzz")).content.decode()
    assert "Nobody matches." in nobody and "on this page" not in nobody


def test_an_account_shows_only_the_access_its_directory_holds(client, alpha, directory):
    """Licences are Entra ID's: an Okta or SCIM app account has no "Licences" row, a SCIM app
    account no "Apps" row (it is an app), and its groups, whose members the inventory does not
    read, are "not known" rather than "none"."""
    slack = DirectoryConnection.objects.create(tenant=alpha.tenant, kind="scim", name="Slack")
    add_account(slack, f"ada@{alpha.tenant.primary_domain}", "Ada Lovelace")
    add_account(slack, "zed@agency.test", "Zed Agency")
    matching.rematch(alpha.tenant)
    client.force_login(alpha.technician)

    def card(person_key: str, label: str) -> str:
        person = Person.objects.get(key=person_key)
        body = client.get(person_url(alpha, person)).content.decode()
        start = body.index(f"<h2>{label}</h2>")
        return body[start : body.index("</section>", start)]

    ada = f"ada@{alpha.tenant.primary_domain}"
    entra = card(ada, "Microsoft Entra ID")
    assert "<dt>Licences</dt>" in entra and "<dt>Apps</dt>" in entra
    okta = card(ada, "Okta")
    assert "<dt>Licences</dt>" not in okta and "<dt>Apps</dt>" in okta
    scim = card("zed@agency.test", "Slack (SCIM)")
    assert "<dt>Licences</dt>" not in scim and "<dt>Apps</dt>" not in scim
    assert "<dt>Groups</dt>" in scim and "not known" in scim


def test_one_column_says_whether_each_account_may_sign_in_in_the_filters_words(
    client, alpha, directory
):
    """The Status column said "Active" or "Joiner" (the portal's lifecycle) for a managed
    person and "Enabled" or "Disabled" (the directory's account) for an unmanaged one, under a
    filter called Sign-in: two vocabularies in one column. The lifecycle goes beside
    "Managed"; the column, named as its filter, says the accounts' state for everyone."""
    client.force_login(alpha.technician)
    body = client.get(url(alpha)).content.decode()
    head = re.search(r"<thead>(.*?)</thead>", body, re.S).group(1)
    assert "<th>Sign-in</th>" in head and "<th>Status</th>" not in head
    cells = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S):
        texts = [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", td)).strip()
            for td in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        cells[texts[0].split(" ")[0]] = texts
    header = [re.sub(r"<[^>]+>", "", th) for th in re.findall(r"<th[^>]*>(.*?)</th>", head)]
    managed, sign_in = header.index("Managed"), header.index("Sign-in")
    assert cells["Ada"][managed] == "Unmanaged" and cells["Ada"][sign_in] == "Enabled"
    assert cells["Bob"][sign_in] == "Disabled"
    # the managed joiner has no account read yet: nothing to say about signing in
    assert cells["Pat"][managed] == "Managed Joiner" and cells["Pat"][sign_in] == "–"


def test_the_client_homes_people_are_those_still_here_and_says_how_many_left(client, alpha):
    """The card said "The 20 latest of 30 people the portal manages" and listed people who
    had left: it lists those still here (joiners, active, leaving), and counts the others."""
    for n, status in enumerate(["active", "left", "left", "leaver"]):
        Identity.objects.create(
            tenant=alpha.tenant,
            first_name="Home",
            last_name=f"{n:02d}",
            display_name=f"Home {status} {n}",
            username=f"home{n:02d}@{alpha.tenant.primary_domain}",
            email=f"home{n:02d}@{alpha.tenant.primary_domain}",
            status=status,
        )
    client.force_login(alpha.client_admin)
    response = client.get(reverse("client_home", kwargs={"tenant": alpha.tenant.slug}))
    body = response.content.decode()
    shown = {person.display_name for person in response.context["people"]}
    assert "Home active 0" in shown and "Home leaver 3" in shown
    assert not {"Home left 1", "Home left 2"} & shown
    assert "The 3 people the portal manages, and 2 who have left" in body


def test_the_counts_add_up_to_the_people_listed(client, alpha, directory):
    """The cards said "165 accounts", "30 managed people", "122 unmanaged people", "1 out of
    scope": 153 of what? They count people (managed + unmanaged = the rows), the accounts
    beside them, and the out-of-scope as some of those people."""
    client.force_login(alpha.technician)
    body = client.get(url(alpha)).content.decode()
    cards = body[body.index('id="people-counts"') :].split("</div>\n</div>", 1)[0]
    text = " ".join(re.sub(r"<[^>]+>", " ", cards).split())
    assert "5 people with 5 accounts in 2 directories" in text
    assert "1 managed person" in text and "4 unmanaged people" in text
    assert "1 of them out of scope: never changed" in text
