"""The control API under /_sandbox/: create directories and SCIM apps (/_sandbox/scim-apps)
and webhook receivers (/_sandbox/webhook-receivers, receiving at /hooks/{name}),
tune their behaviour and settings, read their stats and state, generate big directories,
record sign-ins, reset delta tokens, reset. Every route but /_sandbox/health and the
receivers themselves (/hooks/{name}) needs
`Authorization: Bearer <control token>` (env SANDBOX_CONTROL_TOKEN).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox import webhook_receivers
from sandbox.entra import applications as entra_applications
from sandbox.entra import generate as entra_generate
from sandbox.entra import settings as entra_settings
from sandbox.entra import signins as entra_signins
from sandbox.entra.provision import create_tenant, created_summary
from sandbox.okta import create_org
from sandbox.okta import generate as okta_generate
from sandbox.okta import provision as okta_provision
from sandbox.okta import signins as okta_signins
from sandbox.reply import Endpoint
from sandbox.scim import SlugTaken, create_app
from sandbox.state import SandboxState

DEFAULT_CONTROL_TOKEN = "sandbox-demo-control-token"  # noqa: S105 - documented demo default
KINDS = ("entra", "okta", "scim")
GENERATED_KINDS = ("entra", "okta")  # generate and sign-ins: directories only


def control_token_from_env() -> str:
    return os.environ.get("SANDBOX_CONTROL_TOKEN") or DEFAULT_CONTROL_TOKEN


EXPOSED = (
    "The sandbox will not listen on {host} with the demo control token: set "
    "SANDBOX_CONTROL_TOKEN to a secret of your own, or listen on 127.0.0.1."
)


def exposed_with_default_token(host: str, control_token: str) -> bool:
    """Whether listening on `host` would serve the control API (every directory's users and
    secrets, read and rewritten) beyond this machine with the token everyone can read."""
    if control_token != DEFAULT_CONTROL_TOKEN or host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: whatever it resolves to, not known to be loopback
        return True


def problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def json_body(request: Request) -> dict:
    raw = await request.body()
    if not raw.strip():
        return {}
    data = json.loads(raw)  # ValueError is answered 400 by `guarded`
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def routes(state: SandboxState, control_token: str) -> list[BaseRoute]:
    expected = f"Bearer {control_token}".encode()

    def guarded(endpoint: Endpoint) -> Endpoint:
        async def wrapper(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return problem(401, "control token missing or wrong (Authorization: Bearer ...)")
            kind = request.path_params.get("kind")
            if kind is not None and kind not in KINDS:
                return problem(404, f"unknown directory kind {kind!r}; use entra, okta or scim")
            try:
                return await endpoint(request)
            except ValueError as exc:
                return problem(400, str(exc))
            except (TypeError, KeyError, AttributeError) as exc:
                # Control bodies are free-form JSON; a shape we did not foresee is still a 400.
                return problem(400, f"malformed body: {exc!r}")

        return wrapper

    def directory(request: Request) -> Any:  # EntraTenant | OktaOrg | ScimApp | None
        # /_sandbox/scim-apps/{slug}/... names a SCIM app without a {kind}.
        kind = request.path_params.get("kind", "scim")
        key = request.path_params.get("id") or request.path_params["slug"]
        if kind not in KINDS:
            return None
        return state.directories(kind).get(key.lower() if kind == "entra" else key)

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "entra": len(state.entra),
                "okta": len(state.okta),
                "scim": len(state.scim),
            }
        )

    async def create_entra(request: Request) -> Response:
        tenant = create_tenant(state, await json_body(request))
        return JSONResponse(created_summary(tenant), status_code=201)

    async def create_okta(request: Request) -> Response:
        org = create_org(state, await json_body(request))
        return JSONResponse(org.to_state(), status_code=201)

    async def create_scim_app(request: Request) -> Response:
        try:
            app = create_app(state, await json_body(request))
        except SlugTaken as taken:
            return problem(409, f"a SCIM app with slug {taken} already exists")
        root = f"{request.url.scheme}://{request.url.netloc}/scim/{app.slug}"
        created = {
            "slug": app.slug,
            "base_url": f"{root}/v2",
            "token": app.token,
            "token_url": f"{root}/oauth/token",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
        }
        return JSONResponse(created, status_code=201)

    async def scim_settings(request: Request) -> Response:
        target = state.scim.get(request.path_params["slug"])
        if target is None:
            return problem(404, "no such SCIM app")
        if request.method == "PUT":
            target.update_settings(await json_body(request))
        return JSONResponse(target.settings())

    async def scim_expire_tokens(request: Request) -> Response:
        target = state.scim.get(request.path_params["slug"])
        if target is None:
            return problem(404, "no such SCIM app")
        return JSONResponse({"expired": target.expire_tokens()})

    async def scim_apps(request: Request) -> Response:
        return JSONResponse(
            [
                {"slug": a.slug, "name": a.name, "flavour": a.flavour_name}
                for a in state.scim.values()
            ]
        )

    async def behaviour(request: Request) -> Response:
        target = directory(request)
        if target is None:
            return problem(404, "no such directory")
        if request.method == "PUT":
            target.behaviour.update(await json_body(request))
        return JSONResponse(target.behaviour.as_dict())

    async def stats(request: Request) -> Response:
        target = directory(request)
        if target is None:
            return problem(404, "no such directory")
        snapshot = target.stats.snapshot()
        if request.method == "DELETE":
            target.stats.reset()
        return JSONResponse(snapshot)

    async def whole_state(request: Request) -> Response:
        target = directory(request)
        if target is None:
            return problem(404, "no such directory")
        return JSONResponse(target.to_state())

    async def remove(request: Request) -> Response:
        target = directory(request)
        if target is None:
            return problem(404, "no such directory")
        del state.directories(request.path_params.get("kind", "scim"))[target.id]
        return Response(status_code=204)

    async def settings(request: Request) -> Response:
        target = state.entra.get(request.path_params["id"].lower())
        if target is None:
            return problem(404, "no such Entra directory")
        if request.method == "PUT":
            entra_settings.update_settings(target, await json_body(request))
        return JSONResponse(entra_settings.settings_of(target))

    async def okta_settings(request: Request) -> Response:
        target = state.okta.get(request.path_params["id"])
        if target is None:
            return problem(404, "no such Okta org")
        if request.method == "PUT":
            okta_provision.update_settings(target, await json_body(request))
        return JSONResponse(okta_provision.settings_of(target))

    async def delta_reset(request: Request) -> Response:
        target = state.entra.get(request.path_params["id"].lower())
        if target is None:
            return problem(404, "no such Entra directory")
        return JSONResponse(entra_settings.reset_delta(target, await json_body(request)))

    async def app_passwords(request: Request) -> Response:
        target = state.entra.get(request.path_params["id"].lower())
        if target is None:
            return problem(404, "no such Entra directory")
        client_id = request.path_params["client_id"]
        try:
            if request.method == "PUT":
                body = await json_body(request)
                return JSONResponse(entra_applications.set_in_use_end(target, client_id, body))
            if request.method == "POST":
                body = await json_body(request)
                made = entra_applications.add_password(target, client_id, body)
                return JSONResponse(made, status_code=201)
            return JSONResponse(entra_applications.credentials_of(target, client_id))
        except LookupError:
            return problem(404, "no such app registration in this directory")

    async def generate(request: Request) -> Response:
        target = directory(request)
        if target is None:
            return problem(404, "no such directory")
        body = await json_body(request)
        kind = request.path_params["kind"]
        if kind not in GENERATED_KINDS:
            return problem(404, "only Entra and Okta directories are generated")
        made = (entra_generate if kind == "entra" else okta_generate).generate(target, body)
        return JSONResponse(made, status_code=201)

    async def sign_ins(request: Request) -> Response:
        target = directory(request)
        if target is None:
            return problem(404, "no such directory")
        body = await json_body(request)
        kind = request.path_params["kind"]
        if kind not in GENERATED_KINDS:
            return problem(404, "only Entra and Okta directories record sign-ins")
        count = (entra_signins if kind == "entra" else okta_signins).record_from_control(
            target, body
        )
        return JSONResponse({"recorded": count})

    async def listing(request: Request) -> Response:
        # SCIM apps are listed at /_sandbox/scim-apps.
        return JSONResponse({kind: sorted(state.directories(kind)) for kind in GENERATED_KINDS})

    async def webhook_receiver(request: Request) -> Response:
        name = request.path_params["name"]
        receivers = state.webhook_receivers
        if request.method == "PUT":
            made = webhook_receivers.configure(receivers, name, await json_body(request))
            return JSONResponse(made.to_state())
        if name not in receivers:
            return problem(404, "no such webhook receiver")
        if request.method == "DELETE":
            del receivers[name]
            return Response(status_code=204)
        return JSONResponse(receivers[name].to_state())

    async def hook(request: Request) -> Response:
        return await webhook_receivers.receive(state.webhook_receivers, request)

    async def reset(request: Request) -> Response:
        state.reset()
        return JSONResponse({"status": "reset"})

    return [
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/directories", guarded(listing), methods=["GET"]),
        Route("/_sandbox/entra/tenants", guarded(create_entra), methods=["POST"]),
        Route("/_sandbox/okta/orgs", guarded(create_okta), methods=["POST"]),
        Route("/_sandbox/scim-apps", guarded(create_scim_app), methods=["POST"]),
        Route("/_sandbox/scim-apps", guarded(scim_apps), methods=["GET"]),
        Route("/_sandbox/scim-apps/{slug}", guarded(whole_state), methods=["GET"]),
        Route("/_sandbox/scim-apps/{slug}", guarded(remove), methods=["DELETE"]),
        Route("/_sandbox/scim-apps/{slug}/behaviour", guarded(behaviour), methods=["GET", "PUT"]),
        Route("/_sandbox/scim-apps/{slug}/stats", guarded(stats), methods=["GET", "DELETE"]),
        Route(
            "/_sandbox/scim-apps/{slug}/settings", guarded(scim_settings), methods=["GET", "PUT"]
        ),
        Route(
            "/_sandbox/scim-apps/{slug}/tokens/expire",
            guarded(scim_expire_tokens),
            methods=["POST"],
        ),
        # Before /_sandbox/{kind}/{id}, which would take a DELETE of a receiver.
        Route(
            "/_sandbox/webhook-receivers/{name}",
            guarded(webhook_receiver),
            methods=["GET", "PUT", "DELETE"],
        ),
        Route("/hooks/{name}", hook, methods=["POST"]),
        Route("/_sandbox/{kind}/{id}/behaviour", guarded(behaviour), methods=["GET", "PUT"]),
        Route("/_sandbox/{kind}/{id}/stats", guarded(stats), methods=["GET", "DELETE"]),
        Route("/_sandbox/{kind}/{id}/state", guarded(whole_state), methods=["GET"]),
        Route("/_sandbox/entra/{id}/settings", guarded(settings), methods=["GET", "PUT"]),
        Route("/_sandbox/okta/{id}/settings", guarded(okta_settings), methods=["GET", "PUT"]),
        Route("/_sandbox/entra/{id}/delta-reset", guarded(delta_reset), methods=["POST"]),
        Route(
            "/_sandbox/entra/{id}/apps/{client_id}/password-credentials",
            guarded(app_passwords),
            methods=["GET", "PUT", "POST"],
        ),
        Route("/_sandbox/{kind}/{id}/generate", guarded(generate), methods=["POST"]),
        Route("/_sandbox/{kind}/{id}/sign-ins", guarded(sign_ins), methods=["POST"]),
        Route("/_sandbox/{kind}/{id}", guarded(remove), methods=["DELETE"]),
        Route("/_sandbox/reset", guarded(reset), methods=["POST"]),
    ]
