"""What an audit action means, in words for the people who read a tenant's trail without
filtering it (a client admin's home): the code stays the trail's key and its filter."""

from __future__ import annotations

ACTION_WORDS = {
    "access.approve": "Access request approved",
    "access.deny": "Access request denied",
    "access.expired": "Access request expired",
    "access.job_outcome": "Access job ended",
    "access.request": "Access requested",
    "auth.login": "Signed in",
    "batch.upload": "CSV file uploaded",
    "connection.create": "Directory connected",
    "connection.credential_expiry_read": "Credential expiry checked",
    "directory.add_group": "Added to a group",
    "directory.assign_app": "App assigned",
    "directory.assign_license": "Licence assigned",
    "directory.create_user": "Account created",
    "directory.disable_user": "Sign-in blocked",
    "directory.enable_user": "Sign-in allowed",
    "directory.remove_group": "Removed from a group",
    "directory.remove_license": "Licence removed",
    "directory.reset_password": "Password reset",
    "directory.revoke_sessions": "Sessions revoked",
    "directory.unassign_app": "App removed",
    "directory.update_user": "Account updated",
    "identity.change": "Change requested",
    "identity.offboard": "Offboarding requested",
    "identity.onboard": "Onboarding requested",
    "job.finish": "Job finished",
    "job.plan": "Job planned",
    "job.retry": "Job retried",
    "requestable.create": "Requestable access added",
    "role_template.create": "Role template added",
    "role_template.update": "Role template changed",
    "staff.create": "Staff member added",
    "tenant.create": "Tenant added",
}


def action_words(action: str) -> str:
    """The action in words; an action without any yet reads as its code."""
    return ACTION_WORDS.get(action, action)
