"""What a signed-in person or an API token reads (people, jobs, audit trails, exports) is
kept by no browser or shared cache: every such answer says `Cache-Control: no-store`
(OWASP ASVS V8.2.1), unless the view chose its own caching. A page for nobody in
particular (the sign-in page, a static file) is left as it was."""

from django.test import Client
from django.urls import reverse

from tests.api.conftest import token_for


def _cache_control(response) -> str:
    return response.get("Cache-Control", "")


def test_a_signed_in_persons_pages_partials_exports_and_errors_are_not_stored(client, alpha):
    client.force_login(alpha.technician)
    slug = alpha.tenant.slug
    answers = {
        "dashboard": client.get(reverse("dashboard")),
        "people": client.get(reverse("people_list", kwargs={"tenant": slug})),
        "people rows": client.get(
            reverse("people_list", kwargs={"tenant": slug}), headers={"HX-Request": "true"}
        ),
        "report csv": client.get(reverse("client_report_csv", kwargs={"tenant": slug})),
        "not found": client.get("/no/such/page/"),
    }
    for name, response in answers.items():
        assert "no-store" in _cache_control(response), name
        assert "private" in _cache_control(response), name


def test_the_api_answers_are_not_stored(db, alpha):
    clear = token_for(alpha.technician)
    response = Client().get("/api/v1/tenants", headers={"Authorization": f"Bearer {clear}"})
    assert response.status_code == 200
    assert "no-store" in _cache_control(response)


def test_a_page_for_nobody_in_particular_keeps_its_own_caching(db):
    login = Client().get(reverse("login"))
    assert "no-store" in _cache_control(login)  # Django's never_cache, as before
    assert "private" in _cache_control(login)
    css = Client().get("/static/css/portal.css")
    assert "no-store" not in _cache_control(css)


def test_the_csrf_cookie_is_out_of_reach_of_scripts(client, db):
    """htmx sends the token from the page (hx-headers on <body>); no script reads the cookie."""
    response = client.get(reverse("login"))
    assert response.cookies["csrftoken"]["httponly"]
