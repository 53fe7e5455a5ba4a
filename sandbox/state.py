"""Everything the sandbox holds: the Entra tenants, Okta orgs and SCIM apps, optionally kept
in a file.

Directory objects (EntraTenant, OktaOrg, ScimApp) share one protocol: `.id`, `.behaviour`, `.stats`,
`to_state()` for the control API, `to_json()` / `from_json()` for persistence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Literal, Protocol

from sandbox.behaviour import Behaviour, Stats
from sandbox.entra.model import EntraTenant
from sandbox.okta import OktaOrg
from sandbox.scim import ScimApp
from sandbox.webhook_receivers import Receiver

log = logging.getLogger(__name__)

Kind = Literal["entra", "okta", "scim"]
SAVE_DELAY_S = 0.5


class Directory(Protocol):
    id: str
    behaviour: Behaviour
    stats: Stats

    def to_state(self) -> dict: ...

    def to_json(self) -> dict: ...


class SandboxState:
    def __init__(self, state_file: Path | str | None = None) -> None:
        self.entra: dict[str, EntraTenant] = {}
        self.okta: dict[str, OktaOrg] = {}
        self.scim: dict[str, ScimApp] = {}  # by slug
        # Not saved: a receiver is a test's fixture (sandbox/webhook_receivers.py).
        self.webhook_receivers: dict[str, Receiver] = {}
        self.state_file = Path(state_file) if state_file else None
        self._save_handle: asyncio.TimerHandle | None = None

    def reset(self) -> None:
        self.entra.clear()
        self.okta.clear()
        self.scim.clear()
        self.webhook_receivers.clear()
        self.mark_changed()

    def directories(self, kind: Kind) -> dict[str, Any]:  # EntraTenant, OktaOrg, ScimApp values
        return {"entra": self.entra, "okta": self.okta, "scim": self.scim}[kind]

    # Persistence ---------------------------------------------------------------------------

    def to_json(self) -> dict:
        return {
            "version": 1,
            "entra": [t.to_json() for t in self.entra.values()],
            "okta": [o.to_json() for o in self.okta.values()],
            "scim": [a.to_json() for a in self.scim.values()],
        }

    def load(self) -> bool:
        """Load the state file if there is one; True when something was loaded."""
        if not self.state_file or not self.state_file.exists():
            return False
        data = json.loads(self.state_file.read_text())
        for item in data.get("entra", []):
            tenant = EntraTenant.from_json(item)
            self.entra[tenant.id] = tenant
        for item in data.get("okta", []):
            org = OktaOrg.from_json(item)
            self.okta[org.id] = org
        for item in data.get("scim", []):
            app = ScimApp.from_json(item)
            self.scim[app.slug] = app
        return True

    def save(self) -> None:
        self._save_handle = None
        if not self.state_file:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self.to_json())
        # Write then rename, so a crash mid-write never leaves half a file behind.
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".sandbox-state-")
        with os.fdopen(fd, "w") as fh:
            fh.write(payload)
        os.replace(tmp, self.state_file)

    def mark_changed(self) -> None:
        """Schedule a save shortly after a change; bursts of changes coalesce into one write."""
        if not self.state_file or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.save()
            return
        self._save_handle = loop.call_later(SAVE_DELAY_S, self._save_safely)

    def _save_safely(self) -> None:
        try:
            self.save()
        except OSError:
            log.exception("could not save the sandbox state to %s", self.state_file)

    def flush(self) -> None:
        if self._save_handle is not None:
            self._save_handle.cancel()
            self.save()
