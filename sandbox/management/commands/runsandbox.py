"""`python manage.py runsandbox [--host 127.0.0.1] [--port 8765] [--seed demo] [--state-file F]`

Runs the sandbox clouds (Entra ID + Okta emulation) as their own HTTPS server. The Django
project only hosts the command: the server shares nothing with the portal but HTTP.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sandbox.control import (
    DEFAULT_CONTROL_TOKEN,
    EXPOSED,
    control_token_from_env,
    exposed_with_default_token,
)
from sandbox.server import serve
from sandbox.tls import tls_files


class Command(BaseCommand):
    help = "Run the sandbox clouds (emulated Entra ID and Okta) over HTTPS."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--seed",
            choices=["demo"],
            default=None,
            help="load the demo directories (ignored when --state-file exists)",
        )
        parser.add_argument(
            "--state-file",
            default=None,
            help="keep the directories in this JSON file across restarts",
        )
        parser.add_argument(
            "--tls-dir",
            default=None,
            help="where the CA and server certificate live (default var/sandbox)",
        )

    def handle(self, *args, **options) -> None:
        files = tls_files(options["tls_dir"])
        token = control_token_from_env()
        if exposed_with_default_token(options["host"], token):
            raise CommandError(EXPOSED.format(host=options["host"]))
        url = f"https://{options['host']}:{options['port']}"
        self.stdout.write(f"Sandbox clouds on {url}")
        self.stdout.write(f"  CA certificate: {files.ca} (trust it for sandbox connections only)")
        self.stdout.write(f"  Graph: {url}/v1.0   Entra authority: {url}   Okta: {url}/okta/<org>")
        if token == DEFAULT_CONTROL_TOKEN:
            self.stdout.write(
                "  Control API: /_sandbox/ with the demo token (SANDBOX_CONTROL_TOKEN)"
            )
        self.stdout.flush()
        serve(
            options["host"],
            options["port"],
            options["state_file"],
            options["seed"],
            options["tls_dir"],
            token,
        )
