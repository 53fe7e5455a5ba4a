"""The sandbox server: one Starlette app (control API, Entra, Okta, SCIM apps) served by
uvicorn over HTTPS with the project's own CA.

It is a separate server, like another host: the portal meets it only over HTTP.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import control, watchdog
from sandbox.entra.routes import routes as entra_routes
from sandbox.okta import routes as okta_routes
from sandbox.routing import IndexedRouter
from sandbox.scim import routes as scim_routes
from sandbox.state import SandboxState
from sandbox.tls import tls_files

log = logging.getLogger(__name__)
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class SaveOnChange:
    """Schedules a (debounced) save of the state after every successful mutating call."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING or not self.state.state_file:
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                self.state.mark_changed()
            await send(message)

        await self.app(scope, receive, watch)


class _Server(uvicorn.Server):
    """uvicorn's server, whose stop does not wait on idle keep-alive connections. Closing a TLS
    connection waits for the client's close_notify, which a client that keeps the connection
    idle in its pool (the portal's SDK clients) may never send: every stop ran into
    timeout_graceful_shutdown ("Cancel 0 running task(s)"). Requests still being answered
    finish as before."""

    async def shutdown(self, sockets=None) -> None:
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is None or cycle.response_complete:
                connection.transport.abort()
        await super().shutdown(sockets)


def build_app(state: SandboxState, control_token: str) -> ASGIApp:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.flush()

    routes = [
        *control.routes(state, control_token),
        *okta_routes(state),
        *entra_routes(state),
        *scim_routes(state),
    ]
    app = Starlette(lifespan=lifespan)
    app.router = IndexedRouter(routes, lifespan=lifespan)
    return SaveOnChange(app, state)


def make_state(state_file: Path | str | None, seed: str | None) -> SandboxState:
    from sandbox.seed import seed_missing_scim_apps, seed_receivers, seed_state

    state = SandboxState(state_file)
    if state.load():
        log.info("sandbox state loaded from %s", state_file)  # news, not a warning
        if seed:
            seed_receivers(state, seed)  # never saved: made again at every start
            seed_missing_scim_apps(state)  # a demo app added since the state was saved
    elif seed:
        seed_state(state, seed)
        if state_file:
            state.save()
    return state


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    state_file: Path | str | None = None,
    seed: str | None = None,
    tls_dir: Path | str | None = None,
    control_token: str | None = None,
) -> None:
    control_token = control_token or control.control_token_from_env()
    if control.exposed_with_default_token(host, control_token):
        raise SystemExit(control.EXPOSED.format(host=host))
    files = tls_files(tls_dir)
    state = make_state(state_file, seed)
    app = build_app(state, control_token)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(files.cert),
        ssl_keyfile=str(files.key),
        http="httptools",
        loop="uvloop",
        access_log=False,
        # X-Forwarded-Proto and -For are trusted from 127.0.0.1 by default, where every client
        # of the sandbox is: a client could change the scheme of the links it is answered.
        proxy_headers=False,
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=30,
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    watchdog.start_from_env(lambda: setattr(server, "should_exit", True))
    server.run()


def main() -> None:
    """`python -m sandbox.server --port N [--seed demo] [--state-file F] [--tls-dir D]`."""
    import argparse

    parser = argparse.ArgumentParser(description="Run the sandbox clouds.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", choices=["demo"], default=None)
    parser.add_argument("--state-file", default=None)
    parser.add_argument("--tls-dir", default=None)
    args = parser.parse_args()
    files = tls_files(args.tls_dir)
    print(f"sandbox on https://{args.host}:{args.port}  CA: {files.ca}", flush=True)
    serve(args.host, args.port, args.state_file, args.seed, args.tls_dir)


if __name__ == "__main__":
    main()
