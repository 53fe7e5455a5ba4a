"""What follows every inventory read that got to its end: the tenant's accounts are scoped,
matched to people, and compared with what the portal wants (drift), in that order, since
each step reads what the one before wrote."""

from __future__ import annotations

import importlib
import logging

from tenants.models import DirectoryConnection

logger = logging.getLogger(__name__)

# (module, function), each called with the tenant.
STEPS = (
    ("provisioning.inventory.scope", "apply_scope"),
    ("provisioning.inventory.matching", "rematch"),
    ("provisioning.inventory.drift", "detect"),
)


def after_read(connection: DirectoryConnection) -> None:
    """Scope, matching and drift of the connection's tenant, after a successful read."""
    tenant = connection.tenant
    for module_name, function_name in STEPS:
        step = _step(module_name, function_name)
        if step is not None:
            step(tenant)


def _step(module_name: str, function_name: str):
    # Until every part of the takeover is in, a part not written yet is skipped (and said).
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        logger.info("inventory cycle: %s is not there yet; skipped", module_name)
        return None
    step = getattr(module, function_name, None)
    if step is None:
        logger.info("inventory cycle: %s.%s is not there yet; skipped", module_name, function_name)
    return step
