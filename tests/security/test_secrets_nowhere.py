"""Every secret the portal holds for a tenant (directory and SCIM app credentials, the HR
webhook secret, SCIM and API tokens, an outbound webhook's secret), issued through the
services as the pages issue them, then every page, partial and export of the project read by
an MSP admin: no clear secret in any answer, audit event or log line."""

import logging
from datetime import timedelta

from django.utils import timezone

from portal.audit.models import AuditEvent
from tests.test_isolation_crawl import crawl_urls, webhook_delivery_of


def issue_every_secret(world, msp_admin) -> list[str]:
    from provisioning.api import tokens as api_tokens
    from provisioning.outbound import services as outbound
    from provisioning.scim import tokens as scim_tokens
    from provisioning.webhook import secret as hr_secret

    hr = hr_secret.rotate(world.tenant, actor=msp_admin)
    _, scim = scim_tokens.issue(world.tenant, "Okta push", actor=msp_admin)
    _, api = api_tokens.issue(
        msp_admin, "PSA", expires_at=timezone.now() + timedelta(days=30), tenants=[world.tenant]
    )
    endpoint = webhook_delivery_of(world).endpoint
    webhook = outbound.rotate_secret(endpoint, actor=msp_admin)
    return [
        world.secret,
        f"{world.tenant.slug}-OKTA-TOKEN-do-not-leak-91d2",
        hr,
        scim,
        api,
        webhook,
    ]


def test_no_page_export_event_or_log_shows_a_secret(
    client, alpha, bravo, msp_admin, msp_template, caplog
):
    caplog.set_level(logging.DEBUG)
    secrets = issue_every_secret(alpha, msp_admin)
    client.force_login(msp_admin)
    for name, url, _ in crawl_urls(alpha, {"msp_template": msp_template}):
        response = client.get(url)
        assert response.status_code < 500, f"GET {name} {url}"
        content = b"".join(response.streaming_content) if response.streaming else response.content
        body = content.decode(errors="replace")
        for secret in secrets:
            assert secret not in body, f"GET {name} {url} shows a secret"
    for event in AuditEvent.objects.all():
        dumped = f"{event.before}{event.after}{event.target_display}"
        assert not [s for s in secrets if s in dumped], event.action
    assert not [s for s in secrets if s in caplog.text]
