"""What the engine asks of this feature (provisioning/engine/first_sign_in.py): whether a
first sign-in is due in a directory, and what to do with the secret a step was given."""

from __future__ import annotations

from provisioning.connectors.factory import connector_type
from provisioning.connectors.sign_in import (
    ACTIVATING,
    DIRECTORY_EMAIL,
    METHOD_NAMES,
    TAP,
    IssuedSignIn,
)
from provisioning.engine import memo
from provisioning.engine.first_sign_in import FIRST_SIGN_IN, Joiner
from provisioning.engine.planner import PlannedStep, Problem
from provisioning.first_sign_in import deliveries
from provisioning.first_sign_in.models import Delivery, FirstSignInPolicy
from provisioning.first_sign_in.recipients import recipient_of
from provisioning.models import Step


class FirstSignInHandler:
    def wanted(self, joiner: Joiner) -> PlannedStep | Problem | None:
        tenant = joiner.tenant
        policy = memo.tenant_row(  # read with the job a run claims (apps.py)
            "first_sign_in_policy",
            tenant.pk,
            lambda: FirstSignInPolicy.objects.filter(tenant=tenant).first(),
        )
        connection = joiner.connection
        method = policy.method_for(connection.kind) if policy else ""
        if not method or method not in connector_type(connection).first_sign_in_methods:
            return None
        if not _still_due(policy, joiner):
            return None
        params: dict = {"method": method, "activates": method in ACTIVATING}
        if method == DIRECTORY_EMAIL:
            return PlannedStep(FIRST_SIGN_IN, "Okta's own activation e-mail to the joiner", params)
        email, whom = recipient_of(policy, joiner.tenant, joiner.manager)
        if not email:
            return Problem(
                "first_sign_in",
                f"No first sign-in will be sent: {whom}. Name the manager with their e-mail, "
                "or choose a named recipient in the tenant's first sign-in settings.",
                blocking=False,
            )
        if method == TAP:
            params |= {
                "lifetime_minutes": policy.tap_lifetime_minutes,
                "usable_once": policy.tap_usable_once,
            }
        params["recipient"] = email
        label = METHOD_NAMES[method]
        return PlannedStep(FIRST_SIGN_IN, f"{label} for {whom} by e-mail", params)

    def delivered(self, step: Step) -> dict | None:
        row = Delivery.objects.filter(step=step).first()
        return deliveries.result_of(row) if row is not None else None

    def deliver(self, step: Step, issued: IssuedSignIn) -> dict:
        return deliveries.deliver(step, issued)


def _still_due(policy: FirstSignInPolicy, joiner: Joiner) -> bool:
    """Not issued for this person in this directory yet, nor failed (retrying that job runs
    its failed step again; the periodic checks never do); and for an account that exists,
    one the portal created since the policy chose a method (never the people it managed
    before)."""
    if joiner.identity_id is not None:
        issued = Delivery.objects.filter(
            identity_id=joiner.identity_id, connection=joiner.connection
        ).exists()
        if issued or _failed(joiner):
            return False
    account = joiner.account
    if account is None or not account.remote_id:
        return True
    created = account.created_remotely_at
    return bool(created and policy.active_since and created >= policy.active_since)


def _failed(joiner: Joiner) -> bool:
    return Step.objects.filter(
        job__identity_id=joiner.identity_id,
        connection=joiner.connection,
        action=FIRST_SIGN_IN,
        status=Step.Status.FAILED,
    ).exists()


handler = FirstSignInHandler()
