"""A client admin's navigation: their organisation's home, people, requests and reports, in
a client's words; the MSP's dashboard sends them home; a client admin of two organisations
switches between them. MSP roles keep their own sidebar. After an inline decision, the
"waiting" sentence and the sidebar's badge fetch themselves again (HX-Trigger), from fragments
scoped like every other view."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.models import Role
from tenants.models import TenantAssignment
from tests.factories import make_person
from tests.provisioning.test_views_access import HX, file, requestable

pytestmark = pytest.mark.django_db


def sidebar(response) -> str:
    page = response.content.decode()
    return page[page.index('<nav class="sidebar"') : page.index("</nav>")]


def links(html: str) -> dict[str, str]:
    """Sidebar link text (first words) -> href."""
    found = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)', html)
    return {text.strip(): href for href, text in found}


def home(world) -> str:
    return reverse("client_home", kwargs={"tenant": world.tenant.slug})


def test_a_client_admin_sees_their_organisations_navigation(client, alpha, bravo):
    client.force_login(alpha.client_admin)
    response = client.get(home(alpha))
    nav = sidebar(response)
    slug = alpha.tenant.slug
    found = links(nav)
    assert found["Home"] == home(alpha)
    assert found["People"] == reverse("people_list", kwargs={"tenant": slug})
    assert found["Requests"] == reverse("access_request_list", kwargs={"tenant": slug})
    assert found["Reports"] == reverse("client_report", kwargs={"tenant": slug})
    assert "Alpha Ltd" in nav and 'id="waiting-for-you"' in nav
    for msp_word in ("Dashboard", "Tenants", "Jobs", "Audit", "Onboard", "Role templates"):
        assert msp_word not in found
    assert bravo.tenant.name not in nav
    assert 'class="active">Home' in nav


@pytest.mark.parametrize(
    ("name", "entry"),
    [("people_list", "People"), ("access_request_list", "Requests"), ("client_report", "Reports")],
)
def test_the_entry_of_the_page_shown_is_marked(client, alpha, name, entry):
    client.force_login(alpha.client_admin)
    response = client.get(reverse(name, kwargs={"tenant": alpha.tenant.slug}))
    assert response.status_code == 200
    nav = sidebar(response)
    assert f'class="active">{entry}' in nav
    assert nav.count('class="active"') == 1


def test_the_msp_dashboard_sends_a_client_admin_home(client, alpha):
    client.force_login(alpha.client_admin)
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[-1][0] == home(alpha)
    page = response.content.decode()
    assert "1 tenants" not in page and ">Tenants<" not in page


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.ACCOUNT_MANAGER, "msp_admin"])
def test_msp_roles_keep_their_navigation(client, alpha, msp_admin, role):
    user = msp_admin if role == "msp_admin" else alpha.people[role]
    client.force_login(user)
    response = client.get(reverse("job_list"))
    found = links(sidebar(response))
    for entry in ("Tenants", "Jobs", "Reports", "Audit"):
        assert entry in found
    # An account manager's home is Reports (the dashboard sends them there).
    assert ("Dashboard" in found) == (role != Role.ACCOUNT_MANAGER)
    assert found["Reports"] == reverse("report_index")
    assert "Home" not in found and "Waiting for you" not in found


def test_a_client_admin_of_two_organisations_switches_between_them(client, alpha, bravo):
    TenantAssignment.objects.create(user=alpha.client_admin, tenant=bravo.tenant)
    client.force_login(alpha.client_admin)
    response = client.get(reverse("dashboard"), follow=True)
    assert response.redirect_chain[-1][0] == home(alpha)  # the first by name
    nav = sidebar(response)
    assert links(nav)["Bravo GmbH"] == home(bravo)

    response = client.get(home(bravo))
    assert response.status_code == 200
    found = links(sidebar(response))
    assert found["People"] == reverse("people_list", kwargs={"tenant": bravo.tenant.slug})
    assert found["Alpha Ltd"] == home(alpha)
    # a page that names no organisation keeps the first one's links
    found = links(sidebar(client.get(reverse("email_settings"))))
    assert found["Home"] == home(alpha)


def test_a_client_admin_with_no_organisation_is_told_so(client, db):
    lonely = make_person("ca-lonely", Role.CLIENT_ADMIN)
    client.force_login(lonely)
    response = client.get(reverse("email_settings"))
    assert "No organisation is assigned to you yet" in sidebar(response)


# -- the counts refresh after a decision -------------------------------------------------------


def test_an_inline_decision_tells_the_page_to_refresh_its_counts(client, alpha):
    vpn = requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)
    wiki = requestable(alpha, "Alpha Wiki", kind="app")
    first, _second = file(alpha, vpn), file(alpha, wiki, days=None)
    client.force_login(alpha.client_admin)
    page = client.get(home(alpha)).content.decode()
    assert "2 requests waiting for your decision." in page
    badge_url, here_url = reverse("waiting_badge"), f"{home(alpha)}waiting/"
    assert f'hx-get="{badge_url}" data-hx-trigger="access-decided from:body"' in page
    # the home's sections come again after a decision and when its grant ends (newcomer11)
    trigger = 'data-hx-trigger="access-decided from:body, access-settled from:body"'
    assert f'hx-get="{here_url}" {trigger}' in page
    # what listens is not what is swapped (a swapped-in element listens only once settled)
    assert 'data-hx-target="#waiting-here"' in page and 'data-hx-target="#waiting-count"' in page

    decide = reverse(
        "access_request_decide", kwargs={"tenant": alpha.tenant.slug, "request_id": first.pk}
    )
    response = client.post(decide, {"decision": "deny", "reason": "No", "inline": "1"}, **HX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == "access-decided"

    here = client.get(here_url, **HX)
    assert here.status_code == 200
    assert "1 request waiting for your decision." in here.content.decode()
    assert "<nav" not in here.content.decode()
    badge = client.get(badge_url, **HX).content.decode()
    assert re.search(r'id="waiting-count"[^>]*>1</span>', badge) and "<nav" not in badge

    # the section's heading follows too: one still pending, then none (it comes out of band,
    # beside the sentence, so nothing new has to listen)
    heading = re.compile(r'<h2 id="approvals-title" data-hx-swap-oob="true">([^<]*)</h2>')
    assert heading.search(here.content.decode()).group(1) == "Pending approvals"
    decide = reverse(
        "access_request_decide", kwargs={"tenant": alpha.tenant.slug, "request_id": _second.pk}
    )
    client.post(decide, {"decision": "deny", "reason": "No", "inline": "1"}, **HX)
    here = client.get(here_url, **HX).content.decode()
    assert "Nothing is waiting for your decision." in here
    assert heading.search(here).group(1) == "No approvals pending"


def test_a_refused_decision_triggers_nothing(client, alpha):
    vpn = requestable(alpha, "Alpha VPN", time_bound=True, max_days=30)
    pending = file(alpha, vpn)
    client.force_login(alpha.client_admin)
    decide = reverse(
        "access_request_decide", kwargs={"tenant": alpha.tenant.slug, "request_id": pending.pk}
    )
    response = client.post(decide, {"decision": "approve", "reason": ""}, **HX)
    assert response.status_code == 400 and "HX-Trigger" not in response


def test_the_count_fragments_are_scoped(client, alpha, bravo):
    client.force_login(bravo.client_admin)
    assert client.get(f"{home(alpha)}waiting/").status_code == 404  # another organisation
    client.force_login(alpha.technician)
    assert client.get(reverse("waiting_badge")).status_code == 403  # no badge for MSP roles
    response = client.get(f"{home(alpha)}waiting/")  # staff may look at the home page
    assert response.status_code == 200
    assert "Nothing is waiting for your decision." in response.content.decode()
    client.logout()
    assert client.get(reverse("waiting_badge")).status_code == 302  # to the sign-in


def test_home_says_when_a_connection_is_paused(client, alpha):
    alpha.connection.quarantined_at = timezone.now()
    alpha.connection.quarantine_reason = "Sign-in refused by the directory"
    alpha.connection.save()
    client.force_login(alpha.client_admin)
    page = client.get(home(alpha)).content.decode()
    assert 'id="quarantined"' in page and "Sign-in refused by the directory" in page
    assert "Changes there wait until your MSP releases it." in page


def breadcrumbs(response) -> str:
    page = response.content.decode()
    start = page.index('<div class="breadcrumbs')
    return page[start : page.index("</div>", start)]


@pytest.mark.parametrize("name", ["people_list", "access_request_list", "client_report"])
def test_a_client_admins_trail_starts_at_their_organisation(client, alpha, name):
    page = reverse(name, kwargs={"tenant": alpha.tenant.slug})
    client.force_login(alpha.client_admin)
    trail = links(breadcrumbs(client.get(page)))
    assert trail.get("Alpha Ltd") == home(alpha)
    assert "Tenants" not in trail
    client.force_login(alpha.technician)
    trail = links(breadcrumbs(client.get(page)))
    assert trail.get("Alpha Ltd") == reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})


def test_home_counts_its_latest_events_in_words(client, alpha):
    """A home with one event said "The latest 1 events": one event is an event."""
    from portal.audit.events import record

    record("identity.onboard", actor=alpha.technician, tenant=alpha.tenant, target=alpha.identity)
    client.force_login(alpha.client_admin)
    page = client.get(home(alpha)).content.decode()
    assert "The latest event of Alpha Ltd" in page, re.findall(r"The latest [^.]*\.", page)


def test_home_audit_trail_says_what_each_directory_call_did(client, alpha):
    from portal.audit.events import record

    change = {"directory": "Okta", "target": "Finance", "attempt": 1}
    record("directory.add_group", actor="system", tenant=alpha.tenant, target=alpha.identity,
           after=change)  # fmt: skip
    client.force_login(alpha.client_admin)
    page = client.get(home(alpha)).content.decode()
    trail = page[page.index('id="audit"') :]
    row = trail[trail.index("directory.add_group") :].split("</tr>")[0]
    assert re.search(r"Finance.*Okta", re.sub(r"<[^>]+>", "", row), re.S), row


def test_the_bulk_pages_trail_goes_through_people_as_the_bulk_list_does(client, alpha):
    """The bulk imports list sits under People; its upload and batch pages skipped People
    ("Contoso / Bulk imports"), so the trail changed from one page of the feature to the next."""
    from provisioning.models import Batch

    batch = Batch.objects.create(tenant=alpha.tenant, kind="onboard", filename="joiners.csv")
    slug = {"tenant": alpha.tenant.slug}
    people = reverse("people_list", kwargs=slug)
    client.force_login(alpha.technician)
    for page in (
        reverse("bulk_upload", kwargs=slug),
        reverse("bulk_batch", kwargs=slug | {"batch_id": batch.pk}),
    ):
        trail = links(breadcrumbs(client.get(page)))
        assert list(trail) == ["Tenants", "Alpha Ltd", "People", "Bulk imports"], page
        assert trail["People"] == people


def test_nothing_waiting_shows_no_zero_badge(client, alpha):
    """'Waiting for you 0' read as a count to act on; an empty queue shows no number, and the
    badge's element stays (hidden) for the decision that fills or empties it again."""
    pending = file(alpha, requestable(alpha, "Alpha VPN", time_bound=True, max_days=30))
    client.force_login(alpha.client_admin)
    nav = sidebar(client.get(home(alpha)))
    assert re.search(r'<span class="count some" id="waiting-count">1</span>', nav)

    decide = reverse(
        "access_request_decide", kwargs={"tenant": alpha.tenant.slug, "request_id": pending.pk}
    )
    client.post(decide, {"decision": "deny", "reason": "No", "inline": "1"}, **HX)
    for html in (sidebar(client.get(home(alpha))), client.get(reverse("waiting_badge"), **HX)):
        html = html if isinstance(html, str) else html.content.decode()
        badge = re.search(r'<span[^>]*id="waiting-count"[^>]*>([^<]*)</span>', html)
        assert badge.group(1) == "" and "hidden" in badge.group(0)
