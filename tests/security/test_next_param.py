"""`next` on the buttons that act and go back where they were: only a path of this site is
followed. A bare word is no path: Django's redirect() would look it up as a URL name, a 500
when no route has it ("-1") and a page of its choosing when one has ("logout")."""

import pytest
from django.urls import reverse

from tests.factories import signed_in
from tests.test_isolation_crawl import (
    access_request_of,
    crawl_urls,
    drift_of,
    held_batch_of,
    unmanaged_person_of,
)

WORDS = ["-1", "logout", "1e309"]


def buttons(world) -> list[str]:
    """Every button that reads `next`, aimed at the tenant's own objects."""
    t = world.tenant.slug
    batch, request = held_batch_of(world).pk, access_request_of(world).pk
    drift = drift_of(world).pk
    return [
        reverse("job_cancel", kwargs={"job_id": world.job.pk}),
        reverse("batch_confirm", kwargs={"tenant": t, "batch_id": batch}),
        reverse("batch_cancel", kwargs={"tenant": t, "batch_id": batch}),
        reverse("access_request_cancel", kwargs={"tenant": t, "request_id": request}),
        reverse("access_request_revoke", kwargs={"tenant": t, "request_id": request}),
        reverse("drift_converge", kwargs={"tenant": t, "drift_id": drift}),
        reverse("drift_accept", kwargs={"tenant": t, "drift_id": drift}),
        reverse("drift_dismiss", kwargs={"tenant": t, "drift_id": drift}),
        reverse(
            "drift_converge_person",
            kwargs={"tenant": t, "person_id": unmanaged_person_of(world).pk},
        ),
    ]


@pytest.mark.parametrize("word", WORDS)
def test_a_bare_word_as_next_goes_back_to_the_default_page(client, alpha, msp_admin, word):
    signed_in(client, msp_admin)  # the password typed: confirm asks it
    for url in buttons(alpha):
        response = client.post(url, {"next": word})
        assert response.status_code == 302, url
        location = response["Location"]
        assert location.startswith("/") and location != reverse("logout"), (url, location)


def test_a_path_of_this_site_as_next_is_followed(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    here = reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})
    for url in buttons(alpha):
        assert client.post(url, {"next": here})["Location"] == here, url


@pytest.mark.parametrize("away", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_another_site_as_next_is_not_followed(client, alpha, msp_admin, away):
    signed_in(client, msp_admin)
    for url in buttons(alpha):
        location = client.post(url, {"next": away})["Location"]
        assert "evil.example" not in location, url


OVER_16_KB = "q=" + "a" * 17_000  # past Django's 16,384 characters of a redirect


def _errors(caplog) -> list[str]:
    return [f"{r.name}: {r.getMessage()[:80]}" for r in caplog.records if r.levelno >= 40]


@pytest.fixture
def every_page(alpha, bravo, msp_template):
    return crawl_urls(alpha, {"msp_template": msp_template})


def test_an_overlong_address_signed_out_is_refused_quietly(client, every_page, caplog):
    """Signed out, every page sends its person to sign in with the page as `next`: an address
    past 16 KB made Django refuse that redirect (400) and log DisallowedRedirect as an ERROR.
    It is refused with a 400 before, logged as a warning at most; a `next` past Django's own
    bound of 2,048 characters would never be followed after signing in anyway."""
    for name, url, _ in every_page:
        caplog.clear()
        response = client.get(url + ("&" if "?" in url else "?") + OVER_16_KB)
        assert response.status_code in (302, 400, 405), (name, response.status_code)
        assert _errors(caplog) == [], name


def test_an_address_within_bounds_signed_out_still_comes_back_after_sign_in(client, alpha):
    here = reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}) + "?q=" + "a" * 1000
    response = client.get(here)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_an_overlong_address_owing_the_second_factor_goes_there_quietly(client, alpha, caplog):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    person = alpha.technician
    TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
    client.force_login(person)
    response = client.get(reverse("dashboard") + "?" + OVER_16_KB)
    assert response.status_code in (302, 400)
    assert _errors(caplog) == []
