"""The webhook pages: who may open them (allowed, 403, 404 for another tenant), the secret
shown once and stored encrypted, the URL change confirmed, rotation, test, redelivery and
switching on, each audited."""

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from provisioning.events.models import Event
from provisioning.outbound import signing
from provisioning.outbound.models import TEST_KIND, Delivery, WebhookEndpoint
from tests.factories import signed_in
from tests.outbound.support import delivery_of, make_endpoint

pytestmark = pytest.mark.django_db

HOOK = "https://psa.example.com/hooks/portal"


def tenant_url(page: str, tenant, **kwargs) -> str:
    return reverse(f"outbound_tenant_{page}", kwargs={"tenant": tenant.slug, **kwargs})


def msp_url(page: str, **kwargs) -> str:
    return reverse(f"outbound_msp_{page}", kwargs=kwargs)


def test_msp_pages_are_for_msp_admins(client, alpha, msp_admin):
    endpoint, _ = make_endpoint(None, HOOK)
    for person, expected in [(msp_admin, 200), (alpha.technician, 403), (alpha.client_admin, 403)]:
        signed_in(client, person)
        assert client.get(msp_url("list")).status_code == expected
        assert client.get(msp_url("endpoint", endpoint_id=endpoint.pk)).status_code == expected


def test_tenant_pages_are_for_the_tenants_operators(client, alpha, bravo, msp_admin):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK, name="Alpha Ltd HaloPSA")
    detail = tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk)
    for person, expected in [
        (msp_admin, 200),
        (alpha.technician, 200),
        (alpha.account_manager, 403),
        (alpha.client_admin, 403),
        (bravo.technician, 404),
        (bravo.client_admin, 404),
    ]:
        signed_in(client, person)
        assert client.get(tenant_url("list", alpha.tenant)).status_code == expected, person
        assert client.get(detail).status_code == expected, person


def test_an_endpoint_of_another_tenant_is_404_under_ones_own(client, alpha, bravo):
    theirs, _ = make_endpoint(bravo.tenant, HOOK)
    signed_in(client, alpha.technician)
    assert (
        client.get(tenant_url("endpoint", alpha.tenant, endpoint_id=theirs.pk)).status_code == 404
    )
    response = client.post(tenant_url("rotate", alpha.tenant, endpoint_id=theirs.pk))
    assert response.status_code == 404


def test_an_msp_endpoint_is_404_under_a_tenant(client, alpha, msp_admin):
    msp_endpoint, _ = make_endpoint(None, HOOK)
    signed_in(client, msp_admin)
    url = tenant_url("endpoint", alpha.tenant, endpoint_id=msp_endpoint.pk)
    assert client.get(url).status_code == 404


def test_creating_shows_the_secret_once_and_stores_it_encrypted(client, alpha):
    signed_in(client, alpha.technician)
    response = client.post(
        tenant_url("create", alpha.tenant),
        {"name": "HaloPSA", "url": HOOK, "kinds": ["job.failed", "connection.quarantined"]},
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(tenant=alpha.tenant)
    (secret,) = endpoint.secrets()
    assert secret.startswith("whsec_") and secret in response.content.decode()
    assert secret not in endpoint.secret_ciphertext
    assert endpoint.kinds == ["connection.quarantined", "job.failed"]
    page = client.get(tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk))
    assert secret not in page.content.decode()
    assert "set just now" in page.content.decode()  # not "set 0 minutes ago"
    assert "no failed attempts" in page.content.decode()  # not "0 failed attempt(s)"
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=1)
    page = client.get(tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk))
    assert "1 failed attempt in a row" in page.content.decode()
    audit = AuditEvent.objects.get(action="webhook.endpoint_create")
    assert audit.tenant_id == alpha.tenant.pk and secret not in str(audit.after)


@pytest.mark.parametrize(
    "url",
    [
        "http://psa.example.com/hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://localhost/hook",
        "https://user:pw@psa.example.com/hook",
        "https://psa.example.com/hook?token=x",
        "\x00",
    ],
)
def test_the_form_refuses_what_is_not_a_public_https_address(client, alpha, url):
    signed_in(client, alpha.technician)
    response = client.post(
        tenant_url("create", alpha.tenant), {"name": "x", "url": url, "kinds": ["job.failed"]}
    )
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "name", ["PSA\r\nBcc: someone@evil.example", "PSA\tTickets", "<b>PSA</b>", "PSA\x1b[31m"]
)
def test_the_form_refuses_a_name_that_is_no_single_line_of_plain_text(client, alpha, name):
    """The name is the subject of the switch-off mail: a newline in it made Django refuse the
    header (BadHeaderError), and nobody heard that their endpoint was switched off."""
    signed_in(client, alpha.technician)
    response = client.post(
        tenant_url("create", alpha.tenant), {"name": name, "url": HOOK, "kinds": ["job.failed"]}
    )
    assert response.status_code == 200
    assert "whsec_" not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_changing_the_url_asks_for_confirmation_and_keeps_the_secret(client, alpha):
    endpoint, secret = make_endpoint(alpha.tenant, HOOK)
    signed_in(client, alpha.technician)
    edit = tenant_url("edit", alpha.tenant, endpoint_id=endpoint.pk)
    form = {"name": "PSA", "url": "https://other.example.com/in", "kinds": ["job.failed"]}
    response = client.post(edit, {**form, "active": "on"})
    assert response.status_code == 200 and "tick to confirm" in response.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == HOOK
    response = client.post(edit, {**form, "active": "on", "confirm_url": "on"})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://other.example.com/in" and endpoint.secrets() == [secret]
    audit = AuditEvent.objects.get(action="webhook.endpoint_update")
    assert audit.before["url"] == HOOK and audit.after["url"] == "https://other.example.com/in"


def test_rotating_shows_a_new_secret_and_the_old_one_still_signs_a_while(client, alpha):
    endpoint, old = make_endpoint(alpha.tenant, HOOK)
    signed_in(client, alpha.technician)
    response = client.post(tenant_url("rotate", alpha.tenant, endpoint_id=endpoint.pk))
    endpoint.refresh_from_db()
    new, previous = endpoint.secrets()
    assert previous == old and new != old and new in response.content.decode()
    assert AuditEvent.objects.filter(action="webhook.endpoint_rotate_secret").count() == 1
    assert signing.PREFIX in new


def test_a_test_event_is_queued_and_audited(client, alpha, django_capture_on_commit_callbacks):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    signed_in(client, alpha.technician)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(tenant_url("test", alpha.tenant, endpoint_id=endpoint.pk))
    assert response.status_code == 302 and len(callbacks) == 1  # the task, after the commit
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.kind == TEST_KIND and delivery.event is None
    assert AuditEvent.objects.filter(action="webhook.test_send").exists()


def test_redelivery_from_the_log_sends_the_same_message_again(client, alpha, msp_admin):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    delivery = delivery_of(alpha.tenant, endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.GIVEN_UP, attempts=8)
    signed_in(client, alpha.technician)
    page = client.get(tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk))
    redeliver = tenant_url(
        "redeliver", alpha.tenant, endpoint_id=endpoint.pk, delivery_id=delivery.pk
    )
    assert redeliver in page.content.decode() and "Given up" in page.content.decode()
    assert client.post(redeliver).status_code == 302
    again = Delivery.objects.exclude(pk=delivery.pk).get()
    assert again.message_id == delivery.message_id and again.status == Delivery.Status.PENDING
    assert AuditEvent.objects.filter(action="webhook.redeliver").exists()
    signed_in(client, alpha.account_manager)
    assert client.post(redeliver).status_code == 403


def test_the_log_filters_by_status_and_answers_htmx_with_the_partial(client, alpha):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    delivery_of(alpha.tenant, endpoint)
    signed_in(client, alpha.technician)
    url = tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk)
    assert (
        "No deliveries with this status"
        in client.get(url, {"status": "delivered"}).content.decode()
    )
    partial = client.get(url, {"status": "pending"}, headers={"HX-Request": "true"})
    assert "<html" not in partial.content.decode() and "job.failed" in partial.content.decode()
    assert client.get(url, {"status": "\x00", "page": "\x00"}).status_code == 200


def test_a_switched_off_endpoint_is_switched_on_again(client, alpha, msp_admin):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        disabled_at="2026-01-01T00:00:00Z", disabled_reason="8 attempts", consecutive_failures=8
    )
    signed_in(client, msp_admin)
    page = client.get(tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk))
    assert "Switched off" in page.content.decode()
    client.post(tenant_url("switch_on", alpha.tenant, endpoint_id=endpoint.pk))
    endpoint.refresh_from_db()
    assert endpoint.disabled_at is None and endpoint.consecutive_failures == 0
    assert AuditEvent.objects.filter(action="webhook.endpoint_switch_on").exists()


def test_the_pages_are_linked_from_the_tenant_page_and_the_navigation(client, alpha, msp_admin):
    signed_in(client, msp_admin)
    tenant_page = client.get(reverse("tenant_detail", kwargs={"tenant": alpha.tenant.slug}))
    assert tenant_url("list", alpha.tenant) in tenant_page.content.decode()
    assert msp_url("list") in tenant_page.content.decode()


def test_the_msp_log_takes_hostile_query_strings(client, msp_admin):
    endpoint, _ = make_endpoint(None, HOOK)
    signed_in(client, msp_admin)
    url = msp_url("endpoint", endpoint_id=endpoint.pk)
    for query in ({"status": "\x00"}, {"page": "-1"}, {"page": "9" * 40, "status": "given_up"}):
        assert client.get(url, query).status_code == 200


def test_deleting_an_endpoint_is_audited_and_for_its_operators(client, alpha, bravo):
    endpoint, _ = make_endpoint(alpha.tenant, HOOK)
    delete = tenant_url("delete", alpha.tenant, endpoint_id=endpoint.pk)
    signed_in(client, alpha.account_manager)
    assert client.post(delete).status_code == 403
    signed_in(client, bravo.technician)
    assert client.post(delete).status_code == 404
    signed_in(client, alpha.technician)
    assert (
        delete
        in client.get(tenant_url("edit", alpha.tenant, endpoint_id=endpoint.pk)).content.decode()
    )
    assert client.post(delete).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert AuditEvent.objects.get(action="webhook.endpoint_delete").before["url"] == HOOK


def test_the_switch_off_mail_of_an_endpoint_named_over_two_lines_is_sent(
    alpha, msp_admin, mailoutbox
):
    """A name stored before the form refused newlines still makes a one-line subject."""
    from provisioning.outbound import alerts

    endpoint, _ = make_endpoint(alpha.tenant, HOOK, name="PSA\r\nBcc: someone@evil.example")
    assert alerts.mail_switched_off(endpoint.pk) == 2
    assert mailoutbox[0].subject.startswith("Webhook switched off: PSA Bcc: someone@")
    assert all(m.recipients() in ([msp_admin.email], [alpha.technician.email]) for m in mailoutbox)


def test_the_pages_lead_nowhere_dead_and_tell_a_receiver_how_to_check_a_message(
    client, alpha, msp_admin
):
    """No "Settings" crumb that is no page, and what a PSA's developer needs on the page
    itself, not in a repository file a browser cannot open."""
    endpoint, _ = make_endpoint(None, HOOK)
    signed_in(client, msp_admin)
    for url in (msp_url("list"), msp_url("create"), msp_url("endpoint", endpoint_id=endpoint.pk)):
        body = client.get(url).content.decode()
        crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', body, re.S)
        assert crumbs is None or "Settings" not in crumbs.group(1), url
    for url in (msp_url("list"), tenant_url("list", alpha.tenant)):
        body = client.get(url).content.decode()
        assert "docs/webhooks.md" not in body
        assert "<code>webhook-signature</code>" in body
        assert 'href="https://www.standardwebhooks.com/"' in body


def test_the_log_tells_its_times_in_a_named_zone(client, alpha, msp_admin):
    """A tenant's endpoint in the tenant's zone, as its other pages; the MSP's (every
    tenant) in the portal's, UTC. Both say which, the htmx partial as the page."""
    alpha.tenant.time_zone = "America/New_York"
    alpha.tenant.save(update_fields=["time_zone"])
    sent = datetime(2026, 12, 3, 14, 30, 5, tzinfo=UTC)
    ours, _ = make_endpoint(alpha.tenant, HOOK)
    everyones, _ = make_endpoint(None, HOOK)
    for endpoint in (ours, everyones):
        Delivery.objects.filter(pk=delivery_of(alpha.tenant, endpoint).pk).update(created_at=sent)
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_set_at=sent)
    client.force_login(msp_admin)
    url = tenant_url("endpoint", alpha.tenant, endpoint_id=ours.pk)
    page = client.get(url).content.decode()
    assert "Times in America/New_York." in page
    assert "3 Dec 2026 09:30:05" in page and "(3 Dec 2026 09:30)" in page and "14:30" not in page
    partial = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "3 Dec 2026 09:30:05" in partial and "14:30" not in partial
    page = client.get(msp_url("endpoint", endpoint_id=everyones.pk)).content.decode()
    assert "Times in UTC." in page and "3 Dec 2026 14:30:05" in page


def _breadcrumbs(html: str) -> str:
    return re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)


def test_the_secret_page_trail_leads_back_through_its_endpoint(client, alpha, msp_admin):
    # The secret belongs to one endpoint: like every sub-page ("People / <person>"), its trail
    # names that parent, so a reader can go back to it from the trail as well as from "Done".
    endpoint, _ = make_endpoint(alpha.tenant, HOOK, name="Alpha Ltd HaloPSA")
    signed_in(client, alpha.technician)
    response = client.post(tenant_url("rotate", alpha.tenant, endpoint_id=endpoint.pk))
    trail = _breadcrumbs(response.content.decode())
    list_url = tenant_url("list", alpha.tenant)
    detail = tenant_url("endpoint", alpha.tenant, endpoint_id=endpoint.pk)
    assert trail.endswith(
        f'<a href="{list_url}">Webhooks</a> / <a href="{detail}">Alpha Ltd HaloPSA</a>'
    )
    msp_endpoint, _ = make_endpoint(None, HOOK, name="MSP PSA")
    signed_in(client, msp_admin)
    response = client.post(msp_url("rotate", endpoint_id=msp_endpoint.pk))
    trail = _breadcrumbs(response.content.decode())
    detail = msp_url("endpoint", endpoint_id=msp_endpoint.pk)
    assert trail == f'<a href="{msp_url("list")}">Webhooks</a> / <a href="{detail}">MSP PSA</a>'


def test_the_delivery_log_says_which_tenant_and_whom_each_event_is_about(
    client, alpha, bravo, msp_admin
):
    """The MSP's endpoint hears every tenant: a log of bare kinds and ids left the reader to
    guess which client's job failed, and for whom (newcomer18's left item)."""
    endpoint, _ = make_endpoint(None, HOOK)
    person = {"id": 3, "display_name": "Ada Lovelace", "username": "ada@alpha.example"}
    delivery_of(alpha.tenant, endpoint, data={"job": {"id": 7, "kind": "join"}, "person": person})
    names = ["Grace Hopper", "Alan Turing", "Edsger Dijkstra"]
    drift = {"items": [{"person": name} for name in names], "people": 3}
    delivery_of(bravo.tenant, endpoint, kind=Event.Kind.DRIFT_DETECTED, data=drift)
    signed_in(client, msp_admin)
    page = client.get(msp_url("endpoint", endpoint_id=endpoint.pk)).content.decode()
    rows = re.findall(r'<tr id="delivery-\d+">(.*?)</tr>', page, re.S)
    text = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)) for row in rows]
    assert bravo.tenant.name in text[0] and "Grace Hopper, Alan Turing and 1 more" in text[0]
    assert alpha.tenant.name in text[1] and "Ada Lovelace" in text[1]
