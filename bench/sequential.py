"""The baseline: onboard people one at a time, one SDK call at a time, as a PowerShell loop does.

No `$batch`, no Celery, no database: msgraph-sdk + azure-identity (the connector's SDKs)
against a sandbox Entra directory with 30 ms latency and no rate limit. The loop looks up the
SKU, the five groups and the app once (as a script's preamble would), then for each person:
does the UPN exist? create the user, assign the licence, add to each group, assign the app
(1 + 1 + 1 + 5 + 1 = 9 calls, each awaited before the next).

    .venv/bin/python bench/sequential.py [--people 40] [--latency-ms 30]

CPU per person of the loop (this process: the SDKs) and of the sandbox, over the loop only,
with the machine's load (`_harness.CpuMeter`).

Last line: sequential_people_per_s=<number> cpu_ms_per_person=<ms> sandbox_cpu_ms_per_person=<ms>
loadavg_start=<1m>,<5m>,<15m> loadavg=<1m>,<5m>,<15m> busy_cores=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _harness  # noqa: E402


def graph_client(url: str, ca: str, tenant_id: str, client_id: str, secret: str):
    """A Graph client configured as docs/sandbox.md says (and as the connector does)."""
    from azure.identity.aio import ClientSecretCredential
    from kiota_authentication_azure.azure_identity_authentication_provider import (
        AzureIdentityAuthenticationProvider,
    )
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph import GraphServiceClient
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph_core import GraphClientFactory

    credential = ClientSecretCredential(
        tenant_id,
        client_id,
        secret,
        authority=url,
        disable_instance_discovery=True,
        connection_verify=ca,
    )
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=["https://graph.microsoft.com/.default"], allowed_hosts=["127.0.0.1"]
    )
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=ca, timeout=30.0),
        options={RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0)},
    )
    adapter = GraphRequestAdapter(auth, http)
    adapter.base_url = f"{url}/v1.0"
    return GraphServiceClient(request_adapter=adapter), [http.aclose, credential.close]


async def onboard_sequentially(
    url: str,
    ca: str,
    tenant_id: str,
    client_id: str,
    secret: str,
    domain: str,
    people: int,
    meter: _harness.CpuMeter,
) -> tuple[int, float, float, _harness.Span]:
    """(people onboarded, seconds for the loop, seconds for the preamble, the loop's CPU)."""
    from msgraph.generated.models.app_role_assignment import AppRoleAssignment
    from msgraph.generated.models.assigned_license import AssignedLicense
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.reference_create import ReferenceCreate
    from msgraph.generated.models.user import User
    from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
        AssignLicensePostRequestBody,
    )

    client, closers = graph_client(url, ca, tenant_id, client_id, secret)
    try:
        started = time.monotonic()
        skus = (await client.subscribed_skus.get()).value
        sku_id = next(s.sku_id for s in skus if s.sku_part_number == _harness.SKU)
        groups = {g.display_name: g.id for g in (await client.groups.get()).value}
        group_ids = [groups[name] for name in _harness.GROUPS]
        apps = (await client.service_principals.get()).value
        app = next(sp for sp in apps if sp.display_name == _harness.APP)
        role_id = app.app_roles[0].id if app.app_roles else None
        preamble = time.monotonic() - started

        started, before = time.monotonic(), meter.sample()
        for index in range(people):
            first, last = "Seq", f"Person{index:05d}"
            upn = f"{first}.{last}@{domain}".lower()
            try:
                await client.users.by_user_id(upn).get()
                continue  # exists already: a loop would skip (or suffix) them
            except ODataError as exc:
                if exc.response_status_code != 404:
                    raise
            user = await client.users.post(
                User(
                    account_enabled=True,
                    display_name=f"{first} {last}",
                    given_name=first,
                    surname=last,
                    mail_nickname=upn.split("@")[0],
                    user_principal_name=upn,
                    usage_location="GB",
                    department="Sales",
                    job_title="Account Executive",
                    password_profile=PasswordProfile(
                        password="Seq-Pa55word!-" + str(index),
                        force_change_password_next_sign_in=True,
                    ),
                )
            )
            await client.users.by_user_id(user.id).assign_license.post(
                AssignLicensePostRequestBody(
                    add_licenses=[AssignedLicense(sku_id=sku_id, disabled_plans=[])],
                    remove_licenses=[],
                )
            )
            for group_id in group_ids:
                ref = ReferenceCreate(odata_id=f"{url}/v1.0/directoryObjects/{user.id}")
                await client.groups.by_group_id(group_id).members.ref.post(ref)
            await client.service_principals.by_service_principal_id(
                app.id
            ).app_role_assigned_to.post(
                AppRoleAssignment(principal_id=user.id, resource_id=app.id, app_role_id=role_id)
            )
        return people, time.monotonic() - started, preamble, meter.span(before, meter.sample())
    finally:
        for close in closers:
            await close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=40)
    parser.add_argument("--latency-ms", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-seq-") as tmp:
        sandbox = _harness.start_sandbox(Path(tmp))
        try:
            domain = "sequential.example"
            tenant_id, client_id = sandbox.create_entra(domain)
            sandbox.behave(tenant_id, latency_ms=args.latency_ms)
            meter = _harness.CpuMeter(
                loop=_harness.self_cpu_seconds,
                sandbox=lambda: _harness.group_cpu_seconds(sandbox.process.pid),
            )
            people, seconds, preamble, span = asyncio.run(
                onboard_sequentially(
                    sandbox.url,
                    str(sandbox.ca),
                    tenant_id,
                    client_id,
                    _harness.SECRET,
                    domain,
                    args.people,
                    meter,
                )
            )
            stats = sandbox.stats(tenant_id)
        finally:
            _harness.stop_group(sandbox.process)
    calls = stats["total_calls"]
    rate = people / seconds
    per_call_ms = seconds * 1000 / max(1, people * 9)
    print(f"sequential: {people} people in {seconds:.2f} s (preamble {preamble * 1000:.0f} ms)")
    print(f"sequential: {calls} calls served in all, {per_call_ms:.1f} ms per call in the loop")
    print(f"sequential: latency {args.latency_ms} ms, {rate:.2f} people/s")
    print(f"sequential: {span.line(people, 'person')}")
    print(
        f"sequential_people_per_s={rate:.3f} cpu_ms_per_person={span.ms_per(people, 'loop'):.1f} "
        f"sandbox_cpu_ms_per_person={span.ms_per(people, 'sandbox'):.1f} {span.keys()}"
    )


if __name__ == "__main__":
    main()
