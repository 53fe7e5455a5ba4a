"""`next` on the buttons that act and go back where they were: only a path of this site is
followed. A bare word is no path: Django's redirect() would look it up as a URL name, a 500
when no route has it ("-1") and a page of its choosing when one has ("logout")."""

import pytest
from django.urls import reverse

from tests.test_isolation_crawl import (
    access_request_of,
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
    client.force_login(msp_admin)
    for url in buttons(alpha):
        response = client.post(url, {"next": word})
        assert response.status_code == 302, url
        location = response["Location"]
        assert location.startswith("/") and location != reverse("logout"), (url, location)


def test_a_path_of_this_site_as_next_is_followed(client, alpha, msp_admin):
    client.force_login(msp_admin)
    here = reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug})
    for url in buttons(alpha):
        assert client.post(url, {"next": here})["Location"] == here, url


@pytest.mark.parametrize("away", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_another_site_as_next_is_not_followed(client, alpha, msp_admin, away):
    client.force_login(msp_admin)
    for url in buttons(alpha):
        location = client.post(url, {"next": away})["Location"]
        assert "evil.example" not in location, url
